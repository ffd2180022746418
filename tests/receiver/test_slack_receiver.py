"""The Slack receiver over real HTTP: the Slack stand-in clicks, submits and types commands."""

from __future__ import annotations

import time
from datetime import date, timedelta

from domain.lifecycle import Claim, apply
from integrations.db.models import RequestRow
from integrations.slack.action_ids import ActionId
from tests.receiver.support import (
    ELENA,
    FATIMA,
    HANNAH,
    LISTING_CHANNEL,
    LUCAS,
    PRIYA,
    PRODUCT_CHANNEL,
    TOMAS,
    Stack,
    audits,
    delegations,
    detail,
    events,
    make_request,
    now,
    person,
    post_approval_card,
    post_assignment_card,
)
from tests.support.waiting import eventually

GENERAL = "C0GN00001"


class TestSignature:
    """Only Slack's correctly signed, fresh requests get past the door."""

    def test_forged_signature_is_refused_and_audited(self, stack: Stack) -> None:
        """A body signed with the wrong secret is a 401 and a signature_refused record."""
        _, state = make_request(stack, "MODREQ-11", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        answer = stack.slack.click(
            PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id, signing_secret="not-the-secret"
        )

        assert answer.status == 401
        assert events(stack) == []
        [refused] = audits(stack, "signature_refused")
        assert refused.request_id is None
        assert detail(refused)["path"] == "/slack/events"
        assert detail(refused)["remote"] == "127.0.0.1"
        assert "does not match" in detail(refused)["reason"]
        assert "payload" not in str(refused.detail)

    def test_stale_timestamp_is_refused(self, stack: Stack) -> None:
        """A correctly signed request older than five minutes is a replay: 401."""
        _, state = make_request(stack, "MODREQ-12", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        answer = stack.slack.click(
            PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id, timestamp=int(time.time()) - 301
        )

        assert answer.status == 401
        assert "stale" in detail(audits(stack, "signature_refused")[0])["reason"]
        assert events(stack) == []

    def test_unsigned_request_is_refused(self, stack: Stack) -> None:
        """No signature headers at all: 401."""
        answer = stack.slack.deliver_raw("command=%2Fgovflow&text=help", signed=False)

        assert answer.status == 401
        assert "missing" in detail(audits(stack, "signature_refused")[0])["reason"]


class TestClicks:
    """Buttons on govflow's cards: entitled clicks are recorded once, others refused."""

    def test_one_click_delivered_three_times_records_one_event(self, stack: Stack) -> None:
        """Slack's retries of a click record nothing more, and trigger advance once."""
        request_id, state = make_request(stack, "MODREQ-13", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        first = stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)
        second = stack.slack.redeliver(first, retry_num=1)
        third = stack.slack.redeliver(first, retry_num=2)

        assert [first.status, second.status, third.status] == [200, 200, 200]
        [event] = events(stack)
        assert event.kind == "decide"
        assert event.payload["verdict"] == "APPROVE"
        assert event.payload["team"] == "product"
        assert event.actor == HANNAH.email
        assert len(audits(stack, "event_received")) == 1
        assert stack.triggered() == [request_id]
        confirmations = eventually(
            lambda: stack.slack.ephemerals(user=HANNAH.id), timeout=5, interval=0.02
        )
        assert len(confirmations) == 1
        assert "recorded" in confirmations[0].text

    def test_not_entitled_click_records_nothing_and_says_why(self, stack: Stack) -> None:
        """Someone off the team's roster: no event, an ephemeral reason, an audit record."""
        request_id, state = make_request(stack, "MODREQ-14", signoff=True)
        ts = post_approval_card(stack, state, "product", GENERAL)

        answer = stack.slack.click(GENERAL, ts, ActionId.APPROVE, LUCAS.id)

        assert answer.status == 200
        assert events(stack) == []
        [told] = eventually(lambda: stack.slack.ephemerals(user=LUCAS.id), timeout=5, interval=0.02)
        assert told.channel == GENERAL
        assert "not on the Product approver roster" in told.text
        [refused] = audits(stack, "action_refused")
        assert refused.request_id == request_id
        assert refused.actor == LUCAS.email
        assert "roster" in refused.reason
        assert stack.triggered() == []

    def test_requester_cannot_approve_their_own_request(self, stack: Stack) -> None:
        """Self-approval is refused even for a member of the approving team."""
        _, state = make_request(stack, "MODREQ-15", signoff=True, requester=person(HANNAH))
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)

        [told] = eventually(
            lambda: stack.slack.ephemerals(user=HANNAH.id), timeout=5, interval=0.02
        )
        assert "You filed MODREQ-15" in told.text
        assert events(stack) == []
        assert "You filed" in audits(stack, "action_refused")[0].reason

    def test_expert_claims_from_the_assignment_card(self, stack: Stack) -> None:
        """Claim is recorded as a claim event by the expert who clicked."""
        request_id, state = make_request(stack, "MODREQ-16")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)

        answer = stack.slack.click(LISTING_CHANNEL, ts, ActionId.CLAIM, ELENA.id)

        assert answer.status == 200
        [event] = events(stack)
        assert (event.kind, event.actor) == ("claim", ELENA.email)
        assert eventually(lambda: stack.trigger.calls, timeout=5, interval=0.02) == [request_id]

    def test_click_on_an_earlier_rounds_card_is_refused(self, stack: Stack) -> None:
        """A card of round 1 cannot approve round 2."""
        _, state = make_request(stack, "MODREQ-17", signoff=True)
        ts = post_approval_card(stack, state.model_copy(update={"round": 0}), "product", GENERAL)

        stack.slack.click(GENERAL, ts, ActionId.APPROVE, HANNAH.id)

        [told] = eventually(
            lambda: stack.slack.ephemerals(user=HANNAH.id), timeout=5, interval=0.02
        )
        assert "round" in told.text
        assert events(stack) == []

    def test_unknown_request_is_refused(self, stack: Stack) -> None:
        """A card for a request the ledger does not hold: refused, audited."""
        _, state = make_request(stack, "MODREQ-18", signoff=True)
        ts = post_approval_card(
            stack, state.model_copy(update={"key": "MODREQ-999"}), "product", GENERAL
        )

        stack.slack.click(GENERAL, ts, ActionId.APPROVE, HANNAH.id)

        [told] = eventually(
            lambda: stack.slack.ephemerals(user=HANNAH.id), timeout=5, interval=0.02
        )
        assert "no request MODREQ-999" in told.text
        assert audits(stack, "action_refused")[0].request_id is None

    def test_a_button_govflow_does_not_know(self, stack: Stack) -> None:
        """Any other action id: 200, an audit record, and a word through response_url."""
        blocks = [
            {
                "type": "actions",
                "block_id": "other",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "other.app.button",
                        "text": {"type": "plain_text", "text": "Press"},
                        "value": "x",
                    }
                ],
            }
        ]
        ts = stack.slack.post_as_user(GENERAL, "U0GF00001", "hello", blocks=blocks).ts

        answer = stack.slack.click(GENERAL, ts, "other.app.button", LUCAS.id)

        assert answer.status == 200
        [refused] = audits(stack, "payload_refused")
        assert refused.actor == LUCAS.id
        posts = eventually(
            lambda: stack.slack.response_posts(user=LUCAS.id), timeout=5, interval=0.02
        )
        assert posts[0].body["response_type"] == "ephemeral"


class TestModals:
    """Buttons that open a modal, and the modal's submission."""

    def test_assess_opens_the_assessment_modal_at_once(self, stack: Stack) -> None:
        """The click opens the form through views.open with its fresh trigger_id."""
        _, state = make_request(stack, "MODREQ-21")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)

        answer = stack.slack.click(LISTING_CHANNEL, ts, ActionId.ASSESS, FATIMA.id)

        assert answer.status == 200
        [view] = eventually(lambda: stack.slack.views(user=FATIMA.id), timeout=5, interval=0.02)
        assert view.payload["callback_id"] == ActionId.ASSESS
        assert events(stack) == []
        [call] = stack.slack.calls("views.open")
        assert call.http_status == 200 and call.error is None

    def test_modal_refused_before_it_opens(self, stack: Stack) -> None:
        """Someone off the expert roster gets a reason, not a form."""
        _, state = make_request(stack, "MODREQ-22")
        ts = post_assignment_card(stack, state, GENERAL)

        stack.slack.click(GENERAL, ts, ActionId.ASSESS, LUCAS.id)

        [told] = eventually(lambda: stack.slack.ephemerals(user=LUCAS.id), timeout=5, interval=0.02)
        assert "Listing Experts roster" in told.text
        assert stack.slack.views(user=LUCAS.id) == []

    def test_assessment_submission_is_recorded(self, stack: Stack) -> None:
        """The submitted form becomes one submit_assessment event; the modal closes."""
        request_id, state = make_request(stack, "MODREQ-23")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)
        stack.slack.click(LISTING_CHANNEL, ts, ActionId.ASSESS, FATIMA.id)
        [view] = eventually(lambda: stack.slack.views(user=FATIMA.id), timeout=5, interval=0.02)

        answer = stack.slack.submit_view(
            view.id,
            FATIMA.id,
            {
                "recommendation": "NEEDS_INFO",
                "risk": "LOW",
                "rationale": "Which grading scheme do the sellers use?",
            },
        )

        assert answer.status == 200
        assert answer.body == ""
        [event] = events(stack)
        assert event.kind == "submit_assessment"
        assert event.payload["assessment"]["recommendation"] == "NEEDS_INFO"
        assert event.dedupe_key == f"slack:view:{view.id}:{view.hash}"
        assert eventually(lambda: stack.trigger.calls, timeout=5, interval=0.02) == [request_id]

    def test_submission_problems_are_answered_in_the_modal(self, stack: Stack) -> None:
        """An incomplete form: response_action errors under each input, nothing recorded."""
        _, state = make_request(stack, "MODREQ-24")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)
        stack.slack.click(LISTING_CHANNEL, ts, ActionId.ASSESS, FATIMA.id)
        [view] = eventually(lambda: stack.slack.views(user=FATIMA.id), timeout=5, interval=0.02)

        answer = stack.slack.submit_view(view.id, FATIMA.id, {"rationale": ""})

        assert answer.status == 200
        body = answer.json()
        assert body["response_action"] == "errors"
        assert {"recommendation", "risk", "rationale"} <= set(body["errors"])
        assert events(stack) == []

    def test_reject_modal_round_trip(self, stack: Stack) -> None:
        """Reject opens the reason form; an empty reason is sent back; a reason is recorded."""
        request_id, state = make_request(stack, "MODREQ-25", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.REJECT, HANNAH.id)
        [view] = eventually(lambda: stack.slack.views(user=HANNAH.id), timeout=5, interval=0.02)
        assert view.payload["callback_id"] == ActionId.REJECT

        empty = stack.slack.submit_view(view.id, HANNAH.id, {"reason": ""})
        reasoned = stack.slack.submit_view(
            view.id, HANNAH.id, {"reason": "Grades are unverifiable."}
        )

        assert empty.json()["response_action"] == "errors"
        assert "reason" in empty.json()["errors"]
        assert reasoned.status == 200 and reasoned.body == ""
        [event] = events(stack)
        assert event.payload["verdict"] == "REJECT"
        assert event.payload["reason"] == "Grades are unverifiable."
        assert eventually(lambda: stack.trigger.calls, timeout=5, interval=0.02) == [request_id]

    def test_refused_submission_is_shown_in_the_modal(self, stack: Stack) -> None:
        """If the person lost the right meanwhile, the modal says why; nothing recorded."""
        request_id, state = make_request(stack, "MODREQ-26")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)
        stack.slack.click(LISTING_CHANNEL, ts, ActionId.ASSESS, FATIMA.id)
        [view] = eventually(lambda: stack.slack.views(user=FATIMA.id), timeout=5, interval=0.02)
        # Elena claims the request while Fatima's form is open.
        claim = Claim(event_id="elena-claims", actor=person(ELENA), at=now())
        with stack.sessions.begin() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None
            row.state = apply(state, claim, stack.rules, (), now()).state.model_dump(mode="json")

        answer = stack.slack.submit_view(
            view.id, FATIMA.id, {"recommendation": "REJECT", "risk": "LOW", "rationale": "No."}
        )

        body = answer.json()
        assert body["response_action"] == "errors"
        assert "claimed MODREQ-26" in next(iter(body["errors"].values()))
        assert events(stack) == []
        assert len(audits(stack, "action_refused")) == 1


class TestSlashCommand:
    """`/govflow ooo`, `status` and `help`, answered ephemerally."""

    def test_ooo_records_a_delegation(self, stack: Stack) -> None:
        """A roster member names a delegate and a last day: one delegation row, audited."""
        until = date.today() + timedelta(days=7)

        answer = stack.slack.slash(PRIYA.id, f"ooo <@{TOMAS.id}|tomas> until {until.isoformat()}")

        assert answer.status == 200
        body = answer.json()
        assert body["response_type"] == "ephemeral"
        assert body["text"].startswith("Recorded")
        [row] = delegations(stack)
        assert (row.approver, row.delegate, row.until) == (PRIYA.id, TOMAS.id, until)
        assert row.created_by == PRIYA.id
        assert len(audits(stack, "delegation_added")) == 1

    def test_ooo_from_someone_on_no_roster_is_refused(self, stack: Stack) -> None:
        """Only people who act on requests need a stand-in."""
        stack.slack.add_user("U0GUEST001", "guest", email="guest@example.com")
        until = date.today() + timedelta(days=3)

        answer = stack.slack.slash(
            "U0GUEST001", f"ooo <@{TOMAS.id}> until {until.isoformat()}", channel=GENERAL
        )

        assert "no govflow roster" in answer.json()["text"]
        assert delegations(stack) == []
        assert len(audits(stack, "command_refused")) == 1

    def test_ooo_with_a_past_date_is_refused(self, stack: Stack) -> None:
        """An out-of-office that already ended is a typo."""
        answer = stack.slack.slash(PRIYA.id, f"ooo <@{TOMAS.id}> until 2020-01-01")

        assert "has passed" in answer.json()["text"]
        assert delegations(stack) == []

    def test_status_names_stage_and_holder(self, stack: Stack) -> None:
        """`status KEY` says where the request is and whom it waits for."""
        make_request(stack, "MODREQ-31", signoff=True)

        answer = stack.slack.slash(LUCAS.id, "status modreq-31")

        text = answer.json()["text"]
        assert "MODREQ-31" in text and "sign-off" in text.lower()
        assert "Product: waiting" in text

    def test_status_of_an_unknown_request(self, stack: Stack) -> None:
        """A key govflow does not hold is said so."""
        answer = stack.slack.slash(LUCAS.id, "status MODREQ-404")

        assert "no request MODREQ-404" in answer.json()["text"]

    def test_help_and_nonsense_print_usage(self, stack: Stack) -> None:
        """`help` prints usage; an unknown verb prints it too and is audited."""
        helped = stack.slack.slash(LUCAS.id, "help")
        confused = stack.slack.slash(LUCAS.id, "frobnicate everything")

        assert "Usage" in helped.json()["text"]
        assert "Usage" in confused.json()["text"]
        assert confused.status == 200
        assert len(audits(stack, "command_refused")) == 1


class TestMalformed:
    """Signed but unreadable bodies: 400 and an audit record, never a 500."""

    def test_json_body_is_refused(self, stack: Stack) -> None:
        """Slack posts forms; a JSON body is not for this endpoint."""
        answer = stack.slack.deliver_raw(
            '{"type": "event_callback"}', content_type="application/json"
        )

        assert answer.status == 400
        assert "form" in detail(audits(stack, "payload_refused")[0])["reason"]

    def test_payload_that_is_not_json(self, stack: Stack) -> None:
        """`payload=` carrying something other than JSON."""
        answer = stack.slack.deliver_raw("payload=%7Bnot-json")

        assert answer.status == 400
        assert len(audits(stack, "payload_refused")) == 1

    def test_interaction_type_govflow_does_not_handle(self, stack: Stack) -> None:
        """A global shortcut is not something govflow offers."""
        answer = stack.slack.deliver_raw('payload={"type":"shortcut","callback_id":"x"}')

        assert answer.status == 400

    def test_view_closed_is_acknowledged(self, stack: Stack) -> None:
        """Closing a modal needs nothing but a 200."""
        answer = stack.slack.deliver_raw('payload={"type":"view_closed","view":{}}')

        assert answer.status == 200
        assert audits(stack, "payload_refused") == []
