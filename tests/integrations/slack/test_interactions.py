"""Render -> click or submit -> parse -> lifecycle event, and the parsers under hostile input.

`click_payload` and `submission_payload` build what Slack would send for a click on a
rendered button or a submission of a rendered modal: the block_actions and view_submission
shapes of Slack's interactivity docs, with values taken from the rendered blocks themselves,
so a renderer and a parser that disagree fail here.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.assessment import Recommendation, Risk
from domain.entitlement import Delegation
from domain.errors import InvalidTransition, PayloadInvalid
from domain.lifecycle import AskRequester, Claim, Decide, SubmitAssessment
from domain.people import Person
from domain.signoff import Verdict
from domain.stages import Stage
from integrations.slack.action_ids import ActionId, InputId
from integrations.slack.approval_card import approval_view, render_approval_card
from integrations.slack.assessment_modal import assessment_modal
from integrations.slack.assignment_card import assignment_view, render_assignment_card
from integrations.slack.interaction_events import (
    ensure_current,
    event_from_click,
    event_from_submission,
)
from integrations.slack.interaction_parsing import (
    ButtonClick,
    ModalSubmission,
    decode_form_payload,
    parse_interaction,
)
from integrations.slack.modal_for_click import modal_for_click
from integrations.slack.modal_inputs import SubmissionErrors
from integrations.slack.reason_modals import ASK, CHANGES, REJECT, reason_modal
from integrations.slack.slash_command import USAGE, SlashKind, parse_slash_command
from tests.domain.test_lifecycle import ELENA, GRACE, PRIYA, T0, TOMAS, Flow

JIRA_URL = "https://jira.example.com/browse/MODREQ-12"
THREAD_URL = "https://example.slack.com/archives/C0EX00001/p1733020000000100"
WORKSPACE = "T0GOV0001"
CARD_TS = "1733020000.000100"
SOPS = [("SOP-LST-001", "Prohibited items"), ("SOP-LST-014", "Replica goods")]
CHANGE = "### 4.2 Counterfeit indicators\nA listing is suspect when two indicators hold."

Blocks = list[dict[str, Any]]


# --- what Slack sends -------------------------------------------------------------------


def click_payload(
    blocks: Blocks,
    action_id: str,
    *,
    user: Person,
    channel: str = "C0EX00001",
    action_ts: str = "1733020001.000200",
    nth: int = 0,
) -> dict[str, Any]:
    """The block_actions payload of a click on the nth button `action_id` in `blocks`."""
    found = [
        (block["block_id"], element)
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    ]
    block_id, button = found[nth]
    return {
        "type": "block_actions",
        "user": {
            "id": user.slack_id,
            "username": "someone",
            "name": "someone",
            "team_id": WORKSPACE,
        },
        "api_app_id": "A0GOV0001",
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": CARD_TS,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "1733020001.12345.abcdef0123456789",
        "team": {"id": WORKSPACE, "domain": "example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "listing-experts"},
        "message": {"type": "message", "ts": CARD_TS, "text": "card", "blocks": blocks},
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{WORKSPACE}/1/abc",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": block_id,
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def submission_payload(
    view: Mapping[str, Any],
    answers: Mapping[Any, Any],
    *,
    user: Person,
    view_id: str = "V0GOV0001",
    view_hash: str = "1733020002.Ab12Cd34",
) -> dict[str, Any]:
    """The view_submission payload of `view` filled in with `answers` by block id."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        answer = answers.get(block["block_id"])
        values[block["block_id"]] = {element["action_id"]: _state_of(element, answer)}
    return {
        "type": "view_submission",
        "team": {"id": WORKSPACE, "domain": "example"},
        "user": {
            "id": user.slack_id,
            "username": "someone",
            "name": "someone",
            "team_id": WORKSPACE,
        },
        "api_app_id": "A0GOV0001",
        "token": "verification-token-unused",
        "trigger_id": "1733020002.12345.abcdef0123456789",
        "view": {
            **view,
            "id": view_id,
            "team_id": WORKSPACE,
            "state": {"values": values},
            "hash": view_hash,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": "A0GOV0001",
            "bot_id": "B0GOV0001",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _state_of(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    """An input's entry in view.state.values, the way Slack reports it."""
    kind = element["type"]
    if kind == "plain_text_input":
        return {"type": kind, "value": answer}
    options = list(element.get("options", [])) + [
        option for group in element.get("option_groups", []) for option in group["options"]
    ]
    by_value = {option["value"]: option for option in options}
    if kind == "static_select":
        return {"type": kind, "selected_option": by_value[answer] if answer else None}
    return {"type": kind, "selected_options": [by_value[v] for v in answer or []]}


def assignment_blocks(flow: Flow) -> Blocks:
    view = assignment_view(
        flow.state, flow.rules, summary="s", jira_url=JIRA_URL, thread_url=THREAD_URL
    )
    return render_assignment_card(view)[1]


def approval_blocks(flow: Flow, team: str = "qa", **options: Any) -> Blocks:
    view = approval_view(
        flow.state,
        team,
        flow.rules,
        summary="s",
        jira_url=JIRA_URL,
        thread_url=THREAD_URL,
        **options,
    )
    return render_approval_card(view)[1]


def click(blocks: Blocks, action_id: str, user: Person, **options: Any) -> ButtonClick:
    parsed = parse_interaction(click_payload(blocks, action_id, user=user, **options))
    assert isinstance(parsed, ButtonClick)
    return parsed


def submit(view: Mapping[str, Any], answers: Mapping[Any, Any], user: Person) -> ModalSubmission:
    parsed = parse_interaction(submission_payload(view, answers, user=user))
    assert isinstance(parsed, ModalSubmission)
    return parsed


AT = T0


# --- clicks -----------------------------------------------------------------------------


class TestClicks:
    def test_claim_click_claims_the_request(self) -> None:
        """Claim on the assignment card parses to a Claim that makes the clicker assignee."""
        flow = Flow.start()
        parsed = click(assignment_blocks(flow), ActionId.CLAIM, ELENA)
        assert parsed == ButtonClick(
            action=ActionId.CLAIM,
            jira_key="MODREQ-12",
            round=0,
            team=None,
            on_behalf_of=None,
            user_id="U0EX00001",
            team_id=WORKSPACE,
            trigger_id="1733020001.12345.abcdef0123456789",
            response_url=f"https://hooks.slack.com/actions/{WORKSPACE}/1/abc",
            channel_id="C0EX00001",
            message_ts=CARD_TS,
            action_ts="1733020001.000200",
            user_name="someone",
        )
        event = event_from_click(parsed, ELENA, AT)
        assert isinstance(event, Claim) and event.event_id == parsed.dedupe_key
        flow.send(event)
        assert flow.state.assignee == ELENA

    def test_approve_click_records_an_approval_for_the_team(self) -> None:
        """Approve on QA's card is a Decide for QA that counts towards its quorum."""
        flow = Flow.start().to_signoff()
        parsed = click(approval_blocks(flow), ActionId.APPROVE, PRIYA, channel="C0QA00001")
        assert (parsed.action, parsed.team, parsed.round) == (ActionId.APPROVE, "qa", 1)
        event = event_from_click(parsed, PRIYA, AT)
        assert isinstance(event, Decide)
        assert (event.team, event.verdict, event.on_behalf_of) == ("qa", Verdict.APPROVE, None)
        flow.send(event)
        assert [d.approver for d in flow.state.round_decisions()] == [PRIYA]

    def test_approve_for_click_decides_for_the_away_member(self) -> None:
        """ "Approve for Tomas" clicked by his delegate Priya counts Tomas's approval."""
        flow = Flow.start().to_signoff()
        away = Delegation(
            approver=TOMAS, delegate=PRIYA, start=date(2026, 12, 1), until=date(2026, 12, 1)
        )
        flow.delegations.append(away)
        flow.decide(PRIYA, "qa")
        blocks = approval_blocks(flow, delegations_for_team=[away])
        parsed = click(blocks, ActionId.APPROVE_FOR, PRIYA)
        assert parsed.on_behalf_of == "U0QA00002"
        event = event_from_click(parsed, PRIYA, AT)
        assert isinstance(event, Decide)
        assert event.on_behalf_of == Person(slack_id="U0QA00002")
        notices = flow.send(event)
        assert any(n.kind == "team_signed_off" for n in notices)

    @pytest.mark.parametrize(
        ("action", "expected"),
        [
            (ActionId.REJECT, ActionId.REJECT),
            (ActionId.CHANGES, ActionId.CHANGES),
            (ActionId.ASK, ActionId.ASK),
        ],
    )
    def test_modal_buttons_on_the_approval_card_open_their_modal(
        self, action: ActionId, expected: ActionId
    ) -> None:
        """Reject, Request changes and Ask record nothing and open a modal tied to the card."""
        flow = Flow.start().to_signoff()
        parsed = click(approval_blocks(flow), action, PRIYA, channel="C0QA00001")
        assert event_from_click(parsed, PRIYA, AT) is None
        modal = modal_for_click(parsed, team_name="QA")
        assert modal is not None and modal["callback_id"] == expected
        metadata = json.loads(modal["private_metadata"])
        assert metadata == {"k": "MODREQ-12", "r": 1, "t": "qa", "c": "C0QA00001", "m": CARD_TS}

    def test_assess_and_ask_buttons_open_modals(self) -> None:
        """On the assignment card, Assess and Ask open their modals without a team."""
        flow = Flow.start()
        blocks = assignment_blocks(flow)
        for action in (ActionId.ASSESS, ActionId.ASK):
            parsed = click(blocks, action, ELENA)
            assert event_from_click(parsed, ELENA, AT) is None
            modal = modal_for_click(parsed, sop_choices=SOPS)
            assert modal is not None and modal["callback_id"] == action
            assert json.loads(modal["private_metadata"]) == {
                "k": "MODREQ-12",
                "r": 0,
                "c": "C0EX00001",
                "m": CARD_TS,
            }

    def test_redelivery_has_the_same_dedupe_key_and_a_new_click_another(self) -> None:
        """Slack's retry repeats the key; a second press (new action_ts) gets a new one."""
        flow = Flow.start().to_signoff()
        blocks = approval_blocks(flow)
        payload = click_payload(blocks, ActionId.APPROVE, user=PRIYA)
        first = parse_interaction(payload)
        again = parse_interaction(copy.deepcopy(payload))
        later = click(blocks, ActionId.APPROVE, PRIYA, action_ts="1733020009.000900")
        assert first.dedupe_key == again.dedupe_key != later.dedupe_key
        assert first.dedupe_key == "slack:U0QA00001:govflow.approve:1733020001.000200:MODREQ-12"

    def test_redelivered_click_is_recorded_once(self) -> None:
        """Two deliveries of one click apply as one decision."""
        flow = Flow.start().to_signoff()
        parsed = click(approval_blocks(flow, team="bpo"), ActionId.APPROVE, GRACE)
        event = event_from_click(parsed, GRACE, AT)
        assert event is not None
        flow.send(event)
        assert flow.send(event) == ()
        assert len(flow.state.round_decisions()) == 1

    def test_click_from_another_user_than_the_actor_is_refused(self) -> None:
        """The Person the receiver resolved must be the Slack user who clicked."""
        flow = Flow.start()
        parsed = click(assignment_blocks(flow), ActionId.CLAIM, ELENA)
        with pytest.raises(PayloadInvalid, match="not the Slack user"):
            event_from_click(parsed, PRIYA, AT)


class TestRounds:
    def test_stale_approval_is_refused(self) -> None:
        """A round-1 Approve clicked after round 2 opened is refused, not counted in round 2."""
        flow = Flow.start().to_signoff()
        old = approval_blocks(flow)
        flow.decide(TOMAS, "qa", Verdict.REQUEST_CHANGES, "More detail.")
        flow.assess(ELENA)
        parsed = click(old, ActionId.APPROVE, PRIYA)
        with pytest.raises(InvalidTransition, match=r"round 1 .* round 2 is open"):
            ensure_current(parsed, flow.state)
        ensure_current(click(approval_blocks(flow), ActionId.APPROVE, PRIYA), flow.state)

    def test_claim_and_ask_are_not_round_bound(self) -> None:
        """Claiming from an older card means the same thing; it is let through."""
        flow = Flow.start()
        old = assignment_blocks(flow)
        flow.claim(ELENA)
        flow.assess(ELENA)
        flow.decide(TOMAS, "qa", Verdict.REQUEST_CHANGES, "More detail.")
        ensure_current(click(old, ActionId.CLAIM, ELENA), flow.state)
        with pytest.raises(InvalidTransition, match="open it again"):
            ensure_current(click(old, ActionId.ASSESS, ELENA), flow.state)


# --- submissions ------------------------------------------------------------------------


def proceed_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        InputId.RECOMMENDATION: "PROCEED",
        InputId.RISK: "HIGH",
        InputId.PROPOSED_CHANGE: CHANGE,
        InputId.AFFECTED_SOPS: ["SOP-LST-014"],
        InputId.RATIONALE: "Replicas keep slipping through.",
    }
    return answers | changes


class TestSubmissions:
    def test_assessment_submission_opens_signoff(self) -> None:
        """A PROCEED assessment submitted from the modal opens sign-off round 1."""
        flow = Flow.start()
        flow.claim(ELENA)
        modal = assessment_modal("MODREQ-12", 0, SOPS, channel_id="C0EX00001", message_ts=CARD_TS)
        sub = submit(modal, proceed_answers(), ELENA)
        assert (sub.callback, sub.jira_key, sub.round, sub.team) == (
            ActionId.ASSESS,
            "MODREQ-12",
            0,
            None,
        )
        assert (sub.channel_id, sub.message_ts) == ("C0EX00001", CARD_TS)
        assert sub.dedupe_key == "slack:view:V0GOV0001:1733020002.Ab12Cd34"
        ensure_current(sub, flow.state)
        event = event_from_submission(sub, ELENA, AT)
        assert isinstance(event, SubmitAssessment)
        assert event.assessment.risk is Risk.HIGH
        assert event.assessment.affected_sops == ("SOP-LST-014",)
        assert event.assessment.proposed_change == CHANGE
        flow.send(event)
        assert (flow.state.stage, flow.state.round) == (Stage.SIGN_OFF, 1)

    def test_prefilled_modal_submits_the_same_assessment(self) -> None:
        """Reopening the modal with the last assessment and submitting keeps its content."""
        flow = Flow.start().to_signoff()
        previous = flow.state.assessment
        assert previous is not None
        modal = assessment_modal("MODREQ-12", 1, SOPS, previous)
        answers = {
            InputId.RECOMMENDATION: "PROCEED",
            InputId.RISK: "MEDIUM",
            InputId.PROPOSED_CHANGE: "### 2 Scope\nReplica goods are prohibited.",
            InputId.AFFECTED_SOPS: ["SOP-LST-014"],
            InputId.RATIONALE: previous.rationale,
        }
        event = event_from_submission(submit(modal, answers, ELENA), ELENA, AT)
        assert isinstance(event, SubmitAssessment)
        assert event.assessment.rationale == previous.rationale

    @pytest.mark.parametrize(
        ("recommendation", "stage"),
        [(Recommendation.REJECT, Stage.REJECTED), (Recommendation.NEEDS_INFO, Stage.NEEDS_INFO)],
    )
    def test_reject_and_needs_info_need_no_change_or_sops(
        self, recommendation: Recommendation, stage: Stage
    ) -> None:
        """Only a PROCEED must say what changes where."""
        flow = Flow.start()
        answers = {
            InputId.RECOMMENDATION: recommendation.value,
            InputId.RISK: "LOW",
            InputId.RATIONALE: "Which markets does this cover?",
        }
        sub = submit(assessment_modal("MODREQ-12", 0, SOPS), answers, ELENA)
        event = event_from_submission(sub, ELENA, AT)
        flow.send(event)
        assert flow.state.stage is stage

    def test_proceed_without_change_or_sops_names_both_inputs(self) -> None:
        """Missing change and SOPs come back as errors under their own inputs."""
        modal = assessment_modal("MODREQ-12", 0, SOPS)
        answers = proceed_answers(**{InputId.PROPOSED_CHANGE: None, InputId.AFFECTED_SOPS: []})
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(modal, answers, ELENA), ELENA, AT)
        assert set(caught.value.errors) == {InputId.PROPOSED_CHANGE, InputId.AFFECTED_SOPS}
        assert set(caught.value.errors) <= input_blocks(modal)

    def test_malformed_change_is_explained_by_line(self) -> None:
        """Text before the first numbered heading is pointed out under the change input."""
        modal = assessment_modal("MODREQ-12", 0, SOPS)
        answers = proceed_answers(**{InputId.PROPOSED_CHANGE: "Just ban replicas."})
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(modal, answers, ELENA), ELENA, AT)
        assert list(caught.value.errors) == [InputId.PROPOSED_CHANGE]
        assert "line 1" in caught.value.errors[InputId.PROPOSED_CHANGE]

    def test_missing_choices_and_blank_rationale(self) -> None:
        """Unchosen selects and a whitespace rationale are each reported."""
        modal = assessment_modal("MODREQ-12", 0, SOPS)
        answers = {InputId.RATIONALE: "   "}
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(modal, answers, ELENA), ELENA, AT)
        assert set(caught.value.errors) == {InputId.RECOMMENDATION, InputId.RISK, InputId.RATIONALE}

    def test_typed_sop_ids_when_no_list_is_loaded(self) -> None:
        """Without SOP choices the modal takes typed ids, which the parser splits."""
        modal = assessment_modal("MODREQ-12", 0, [])
        answers = proceed_answers(**{InputId.AFFECTED_SOPS: "sop-lst-014, SOP-LST-001"})
        event = event_from_submission(submit(modal, answers, ELENA), ELENA, AT)
        assert isinstance(event, SubmitAssessment)
        assert event.assessment.affected_sops == ("SOP-LST-014", "SOP-LST-001")
        bad = proceed_answers(**{InputId.AFFECTED_SOPS: "prohibited items"})
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(modal, bad, ELENA), ELENA, AT)
        assert list(caught.value.errors) == [InputId.AFFECTED_SOPS]

    def test_reject_modal_rejects_with_the_reason(self) -> None:
        """The reject modal's reason becomes the Decide's reason and ends the request."""
        flow = Flow.start().to_signoff()
        modal = reason_modal(
            REJECT, "MODREQ-12", 1, team="bpo", channel_id="C0BP00001", message_ts=CARD_TS
        )
        sub = submit(modal, {InputId.REASON: "  Conflicts with MY law.  "}, GRACE)
        assert (sub.team, sub.channel_id) == ("bpo", "C0BP00001")
        event = event_from_submission(sub, GRACE, AT)
        assert isinstance(event, Decide)
        assert (event.verdict, event.reason) == (Verdict.REJECT, "Conflicts with MY law.")
        flow.send(event)
        assert flow.state.stage is Stage.REJECTED

    def test_changes_modal_sends_it_back(self) -> None:
        """The changes modal's feedback returns the request to expert review."""
        flow = Flow.start().to_signoff()
        modal = reason_modal(CHANGES, "MODREQ-12", 1, team="qa")
        sub = submit(modal, {InputId.FEEDBACK: "Add examples."}, PRIYA)
        event = event_from_submission(sub, PRIYA, AT)
        assert isinstance(event, Decide) and event.verdict is Verdict.REQUEST_CHANGES
        flow.send(event)
        assert flow.state.stage is Stage.EXPERT_REVIEW

    def test_ask_modal_asks_the_requester(self) -> None:
        """The ask modal's question pauses the request on NEEDS_INFO."""
        flow = Flow.start().to_signoff()
        modal = reason_modal(ASK, "MODREQ-12", 1, team="qa")
        sub = submit(modal, {InputId.QUESTION: "Which markets?"}, PRIYA)
        event = event_from_submission(sub, PRIYA, AT)
        assert isinstance(event, AskRequester) and event.question == "Which markets?"
        flow.send(event)
        assert flow.state.stage is Stage.NEEDS_INFO

    @pytest.mark.parametrize(
        ("modal", "block"),
        [
            (reason_modal(REJECT, "MODREQ-12", 1, team="qa"), InputId.REASON),
            (reason_modal(CHANGES, "MODREQ-12", 1, team="qa"), InputId.FEEDBACK),
            (reason_modal(ASK, "MODREQ-12", 1), InputId.QUESTION),
        ],
    )
    def test_blank_reason_is_an_error_under_its_input(
        self, modal: dict[str, Any], block: InputId
    ) -> None:
        """A reason, feedback or question of only spaces is sent back to be filled in."""
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(modal, {block: "  \n "}, PRIYA), PRIYA, AT)
        assert list(caught.value.errors) == [block]
        assert set(caught.value.errors) <= input_blocks(modal)

    def test_forged_oversized_text_is_an_error(self) -> None:
        """Text past the modal's max_length (only a forged payload has it) is refused."""
        modal = reason_modal(REJECT, "MODREQ-12", 1, team="qa")
        with pytest.raises(SubmissionErrors):
            event_from_submission(submit(modal, {InputId.REASON: "x" * 3001}, PRIYA), PRIYA, AT)

    def test_forged_choice_is_payload_invalid(self) -> None:
        """A recommendation the modal never offered is a forged payload."""
        payload = submission_payload(
            assessment_modal("MODREQ-12", 0, SOPS), proceed_answers(), user=ELENA
        )
        state = payload["view"]["state"]["values"][InputId.RECOMMENDATION][InputId.RECOMMENDATION]
        state["selected_option"]["value"] = "APPROVE_EVERYTHING"
        sub = parse_interaction(payload)
        assert isinstance(sub, ModalSubmission)
        with pytest.raises(PayloadInvalid, match="not a choice"):
            event_from_submission(sub, ELENA, AT)


def input_blocks(view: Mapping[str, Any]) -> set[str]:
    """The block ids of the view's input blocks: where Slack can show an error."""
    return {block["block_id"] for block in view["blocks"] if block["type"] == "input"}


# --- hostile payloads -------------------------------------------------------------------


def _valid_click() -> dict[str, Any]:
    flow = Flow.start().to_signoff()
    away = Delegation(
        approver=TOMAS, delegate=PRIYA, start=date(2026, 12, 1), until=date(2026, 12, 1)
    )
    return click_payload(
        approval_blocks(flow, delegations_for_team=[away]), ActionId.APPROVE_FOR, user=PRIYA
    )


def _valid_submission() -> dict[str, Any]:
    return submission_payload(assessment_modal("MODREQ-12", 0, SOPS), proceed_answers(), user=ELENA)


VALID_CLICK = _valid_click()
VALID_SUBMISSION = _valid_submission()


def _with(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    node = changed
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


_DELETE = object()


class TestHostilePayloads:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        [
            (("type",), "view_closed", "does not handle"),
            (("actions",), [], "actions"),
            (("actions", 0, "action_id"), "govflow.delete_everything", "not a govflow action"),
            (("actions", 0, "value"), "{not json", "not valid JSON"),
            (("actions", 0, "value"), "[" * 1500 + "]" * 1500, "longer than Slack allows"),
            (("actions", 0, "value"), "[" * 990 + "]" * 990, "not an object|not valid JSON"),
            (
                ("actions", 0, "value"),
                '{"k":"MODREQ-12","r":true,"t":"qa","o":"U0QA00002"}',
                "round",
            ),
            (("actions", 0, "value"), '{"k":"MODREQ-12","r":1,"t":"qa"}', "names whom"),
            (
                ("actions", 0, "value"),
                '{"k":"modreq 12","r":1,"t":"qa","o":"U0QA00002"}',
                "Jira key",
            ),
            (("actions", 0, "value"), '{"k":"MODREQ-12","r":1,"t":"QA!","o":"U0QA00002"}', "team"),
            (
                ("actions", 0, "value"),
                '{"k":"MODREQ-12","r":1,"t":"qa","o":"<@U1>"}',
                "on-behalf-of",
            ),
            (("actions", 0, "action_ts"), "x" * 100_000, "action_ts"),
            (("user",), _DELETE, "user"),
            (("user", "id"), 12345, "user.id"),
            (("user", "id"), "U" + "A" * 5000, "user.id"),
            (("trigger_id",), None, "trigger_id"),
            (("container",), "message", "container"),
            (("response_url",), "javascript:alert(1)", "response_url"),
        ],
    )
    def test_malformed_clicks_are_payload_invalid(
        self, path: tuple[Any, ...], value: Any, message: str
    ) -> None:
        """Each way a click payload can be wrong is a PayloadInvalid saying what."""
        with pytest.raises(PayloadInvalid, match=message):
            parse_interaction(_with(VALID_CLICK, path, value))

    @pytest.mark.parametrize(
        ("path", "value", "message"),
        [
            (("view", "callback_id"), "govflow.approve", "no modal"),
            (("view", "private_metadata"), "", "not valid JSON"),
            (("view", "private_metadata"), "x" * 3001, "longer"),
            (("view", "private_metadata"), '{"k":"MODREQ-12","r":-1}', "round"),
            (("view", "state"), _DELETE, "view.state"),
            (("view", "state", "values"), [], "values"),
            (("view", "hash"), "", "view.hash"),
            (("view", "id"), None, "view.id"),
        ],
    )
    def test_malformed_submissions_are_payload_invalid(
        self, path: tuple[Any, ...], value: Any, message: str
    ) -> None:
        """Each way a submission payload can be wrong is a PayloadInvalid saying what."""
        with pytest.raises(PayloadInvalid, match=message):
            parse_interaction(_with(VALID_SUBMISSION, path, value))

    def test_reject_modal_without_team_is_invalid(self) -> None:
        """A reject modal whose metadata lost its team cannot be tied to a decision."""
        payload = submission_payload(
            reason_modal(REJECT, "MODREQ-12", 1, team="qa"), {InputId.REASON: "No"}, user=PRIYA
        )
        payload["view"]["private_metadata"] = '{"k":"MODREQ-12","r":1}'
        with pytest.raises(PayloadInvalid, match="names its sign-off team"):
            parse_interaction(payload)

    @pytest.mark.parametrize("payload", [None, [], "payload", 3, {"type": None}, {}])
    def test_not_an_object(self, payload: Any) -> None:
        """Anything but a JSON object is refused."""
        with pytest.raises(PayloadInvalid):
            parse_interaction(payload)

    def test_form_payload_decoding(self) -> None:
        """The form's payload field is decoded; bad or too-deep JSON is PayloadInvalid."""
        assert decode_form_payload({"payload": json.dumps(VALID_CLICK)}) == VALID_CLICK
        for form in [{}, {"payload": "{"}, {"payload": "[" * 100_000}, {"payload": "[1]"}]:
            with pytest.raises(PayloadInvalid):
                decode_form_payload(form)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["MODREQ-12", "U0QA00001", "qa", "1733020001.000200", "govflow.approve"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            if key != "blocks":  # the card's own blocks are not read
                found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


CLICK_PATHS = _paths(VALID_CLICK)
SUBMISSION_PATHS = _paths(VALID_SUBMISSION)


class TestFuzz:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=json_values)
    def test_arbitrary_json_raises_only_payload_invalid(self, payload: Any) -> None:
        """Any JSON value at all is parsed or refused with PayloadInvalid."""
        with contextlib.suppress(PayloadInvalid):
            parse_interaction(payload)

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        base=st.sampled_from(["click", "submission"]),
        data=st.data(),
        mutations=st.integers(1, 3),
    )
    def test_mutated_payloads_raise_only_payload_invalid(
        self, base: str, data: st.DataObject, mutations: int
    ) -> None:
        """Valid payloads with parts replaced or removed parse, or fail with PayloadInvalid."""
        payload = VALID_CLICK if base == "click" else VALID_SUBMISSION
        paths = CLICK_PATHS if base == "click" else SUBMISSION_PATHS
        for _ in range(mutations):
            path = data.draw(st.sampled_from(paths))
            value = data.draw(st.one_of(json_values, st.just(_DELETE)))
            try:
                payload = _with(payload, path, value)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed or replaced the parent
        try:
            parsed = parse_interaction(payload)
            if isinstance(parsed, ButtonClick):
                event_from_click(parsed, Person(slack_id=parsed.user_id), AT)
            else:
                event_from_submission(parsed, Person(slack_id=parsed.user_id), AT)
            assert len(parsed.dedupe_key) <= 255
        except PayloadInvalid:
            pass


# --- /govflow ---------------------------------------------------------------------------


def slash(text: str, user: str = "U0QA00001") -> dict[str, str]:
    """The form Slack posts for `/govflow <text>`."""
    return {
        "token": "unused",
        "team_id": WORKSPACE,
        "team_domain": "example",
        "channel_id": "C0QA00001",
        "channel_name": "qa",
        "user_id": user,
        "user_name": "priya",
        "command": "/govflow",
        "text": text,
        "api_app_id": "A0GOV0001",
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.com/commands/{WORKSPACE}/1/abc",
        "trigger_id": "1733020003.12345.abcdef",
    }


class TestSlashCommand:
    def test_ooo_until(self) -> None:
        """`ooo <@U…|name> until DATE` names the delegate and the last day away."""
        command = parse_slash_command(slash("ooo <@U0QA00002|tomas> until 2026-12-24"))
        assert (command.kind, command.delegate_id, command.start, command.until) == (
            SlashKind.OOO,
            "U0QA00002",
            None,
            date(2026, 12, 24),
        )
        assert (command.user_id, command.channel_id, command.team_id) == (
            "U0QA00001",
            "C0QA00001",
            WORKSPACE,
        )

    def test_ooo_from_until(self) -> None:
        """`ooo @U… from DATE until DATE` gives both ends."""
        command = parse_slash_command(slash("OOO @U0QA00002 FROM 2026-12-20 until 2026-12-24"))
        assert (command.start, command.until) == (date(2026, 12, 20), date(2026, 12, 24))

    def test_status_and_help(self) -> None:
        """`status KEY` names the request; `help` and an empty command ask for help."""
        status = parse_slash_command(slash("status modreq-12"))
        assert (status.kind, status.jira_key) == (SlashKind.STATUS, "MODREQ-12")
        assert parse_slash_command(slash("help")).kind is SlashKind.HELP
        assert parse_slash_command(slash("  ")).kind is SlashKind.HELP

    @pytest.mark.parametrize(
        "text",
        [
            "approve MODREQ-12",
            "ooo",
            "ooo tomas until 2026-12-24",
            "status",
            "status a b",
            "help me",
        ],
    )
    def test_anything_else_is_the_usage(self, text: str) -> None:
        """Unknown or incomplete commands answer with the usage text."""
        with pytest.raises(PayloadInvalid) as caught:
            parse_slash_command(slash(text))
        assert USAGE in str(caught.value)

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("ooo <@U0QA00002> until 2026-02-30", "not a date"),
            ("ooo <@U0QA00002> until 24/12/2026", "not a date"),
            ("ooo <@U0QA00002> from 2026-12-24 until 2026-12-20", "is before"),
            ("ooo <@U0QA00001> until 2026-12-24", "yourself"),
            ("ooo @tomas until 2026-12-24", "@ list"),
            ("status <!channel>", "not a Jira key"),
        ],
    )
    def test_malformed_arguments_say_what_is_wrong(self, text: str, problem: str) -> None:
        """A recognised command with a bad argument explains it, then gives the usage."""
        with pytest.raises(PayloadInvalid) as caught:
            parse_slash_command(slash(text))
        assert problem in str(caught.value) and USAGE in str(caught.value)
        assert "<!channel>" not in str(caught.value)

    def test_unknown_command_message_is_exactly_the_usage(self) -> None:
        """The usage text is the whole answer to a command we do not know."""
        with pytest.raises(PayloadInvalid) as caught:
            parse_slash_command(slash("dance"))
        assert str(caught.value) == USAGE

    def test_missing_user_is_invalid(self) -> None:
        """A form without a user id is not a slash command we can act on."""
        with pytest.raises(PayloadInvalid, match="user_id"):
            parse_slash_command({"text": "help"})

    @settings(max_examples=200, deadline=None)
    @given(
        text=st.one_of(
            st.text(max_size=80),
            st.lists(
                st.sampled_from(
                    [
                        "ooo",
                        "status",
                        "help",
                        "from",
                        "until",
                        "<@U0QA00002|t>",
                        "@U0QA00002",
                        "2026-12-24",
                        "2026-13-01",
                        "MODREQ-1",
                        "x",
                    ]
                ),
                max_size=6,
            ).map(" ".join),
        ),
        form=st.dictionaries(st.text(max_size=10), st.text(max_size=10) | st.none(), max_size=3),
    )
    def test_any_text_parses_or_is_payload_invalid(self, text: str, form: dict[str, Any]) -> None:
        """Whatever is typed after /govflow, the answer is a command or PayloadInvalid."""
        for candidate in (slash(text), {**form, "text": text}, {**slash(text), **form}):
            with contextlib.suppress(PayloadInvalid):
                parse_slash_command(candidate)


def test_times_given_are_used_as_the_event_time() -> None:
    """The event carries the `at` the receiver passes, not a clock read."""
    flow = Flow.start()
    parsed = click(assignment_blocks(flow), ActionId.CLAIM, ELENA)
    at = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)
    event = event_from_click(parsed, ELENA, at)
    assert event is not None and event.at == at


def test_a_naive_time_is_the_callers_mistake_not_the_users() -> None:
    """A bad `at` from the receiver is PayloadInvalid, never an error shown in the modal."""
    sub = submit(assessment_modal("MODREQ-12", 0, SOPS), proceed_answers(), ELENA)
    with pytest.raises(PayloadInvalid) as caught:
        event_from_submission(sub, ELENA, datetime(2026, 12, 1, 10))
    assert not isinstance(caught.value, SubmissionErrors)
