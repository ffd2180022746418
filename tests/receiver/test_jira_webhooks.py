"""Jira webhooks over real HTTP: the Jira stand-in posts them as Jira Cloud does."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from sqlalchemy import select

from domain.entitlement import eligible_roster
from domain.lifecycle import AskRequester, Claim, RequestState
from domain.stages import Stage
from govflow.requesters import LOOKUP_FAILED
from integrations.db.models import RequestRow
from integrations.slack.identity import cached_slack_answer
from sandbox.faults import Fault
from sandbox.jira import seed
from sandbox.jira.state import API_USER_EMAIL
from sandbox.jira.webhooks import Attempt, signature
from sandbox.slack.state import RecordedCall
from tests.receiver.support import (
    FATIMA,
    PRIYA,
    REQUESTER,
    TOMAS,
    WEBHOOK_SECRET,
    Stack,
    audits,
    detail,
    events,
    make_request,
    now,
    person,
)
from tests.support.stand_ins import SLACK_FAILING

# Seeded as Aisyah's (REQUESTER's) ticket.
AISYAH_ISSUE = "MODREQ-1"
# QA in Jira's seed, nobody in the Slack workspace.
CHLOE = "chloe.tan@example.com"


def complete_fields(summary: str) -> dict[str, object]:
    """Fields of a ticket that passes triage."""
    return {
        "Summary": summary,
        "Description": "Listings of refurbished phones are rejected inconsistently across sites.",
        "Priority": "Medium",
        seed.REQUEST_TYPE: seed.REVIEW_STANDARD_CHANGE,
        seed.DOMAIN: seed.PRODUCT_LISTING,
        seed.MARKET: "SG",
        seed.BUSINESS_JUSTIFICATION: "Appeals on refurbished phones doubled this quarter.",
        seed.AFFECTED_SOP: "SOP-LST-001",
        seed.PROPOSED_CHANGE: "Accept refurbished phones with a grading certificate.",
    }


def post(stack: Stack, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST a body to the receiver's webhook route as it stands."""
    return httpx.post(f"{stack.url}/jira/webhook", content=body, headers=headers, timeout=10)


def attempts(stack: Stack, key: str, event: str) -> list[Attempt]:
    """Every attempt of the stand-in to deliver `event` of issue `key` to the receiver."""
    [delivery] = [
        d
        for d in stack.jira.webhook_deliveries()
        if d.event == event and d.payload["issue"]["key"] == key
    ]
    return delivery.attempts


def lookups(stack: Stack, email: str) -> list[RecordedCall]:
    """govflow's users.lookupByEmail calls about `email`, as the Slack stand-in logged them."""
    return [c for c in stack.slack.calls("users.lookupByEmail") if c.args.get("email") == email]


def request_state(stack: Stack, key: str) -> tuple[int, RequestState]:
    """The request recorded for ticket `key` and its state."""
    with stack.sessions.begin() as session:
        row = session.scalars(select(RequestRow).where(RequestRow.jira_key == key)).one()
        assert row.state is not None
        return row.id, RequestState.model_validate(row.state)


def waiting_request(stack: Stack, key: str) -> int:
    """A request for `key` in NEEDS_INFO: the expert asked its requester a question."""
    expert = person(FATIMA)
    request_id, _ = make_request(
        stack,
        key,
        events=(
            Claim(event_id=f"{key}:claim", actor=expert, at=now()),
            AskRequester(event_id=f"{key}:ask", actor=expert, at=now(), question="Which grades?"),
        ),
    )
    return request_id


class TestSignature:
    """Only deliveries signed with the webhook secret are read."""

    def test_forged_signature_is_refused_and_audited(self, stack: Stack) -> None:
        """A wrong X-Hub-Signature: 401, signature_refused, nothing recorded."""
        body = json.dumps({"webhookEvent": "jira:issue_created"}).encode()

        answer = post(stack, body, {"X-Hub-Signature": "sha256=" + "0" * 64})

        assert answer.status_code == 401
        [refused] = audits(stack, "signature_refused")
        assert detail(refused)["path"] == "/jira/webhook"
        assert "does not match" in detail(refused)["reason"]
        assert events(stack) == []

    def test_missing_signature_is_refused(self, stack: Stack) -> None:
        """No X-Hub-Signature at all: 401."""
        answer = post(stack, b"{}", {})

        assert answer.status_code == 401
        assert "missing" in detail(audits(stack, "signature_refused")[0])["reason"]

    def test_signed_but_unreadable_body_is_a_400(self, stack: Stack) -> None:
        """A correctly signed body that is not a webhook: 400 and payload_refused."""
        body = b"[1, 2, 3]"

        answer = post(stack, body, {"X-Hub-Signature": signature(WEBHOOK_SECRET, body)})

        assert answer.status_code == 400
        assert len(audits(stack, "payload_refused")) == 1


class TestIssueEvents:
    """Created and updated issues run intake for that one issue."""

    def test_created_issue_is_taken_in(self, stack: Stack) -> None:
        """A new ticket becomes a routed request, and advance is triggered for it."""
        key = stack.jira.file_issue(
            reporter="chloe.tan@example.com", fields=complete_fields("Refurbished phones in SG")
        )
        stack.jira.flush_webhooks()

        with stack.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
            assert row is not None
            request_id, stage = row.id, row.stage
        assert stage == "EXPERT_REVIEW"
        assert stack.triggered() == [request_id]
        [delivery] = [d for d in stack.jira.webhook_deliveries() if d.event == "jira:issue_created"]
        # One receipt for its identifier, one for its signed body's digest (replays).
        by_identifier, by_digest = events(stack, "jira_webhook")
        assert by_identifier.dedupe_key == f"jira:webhook:{delivery.identifier}"
        assert re.fullmatch(r"jira:webhook:sha256:[0-9a-f]{64}", by_digest.dedupe_key)
        assert by_identifier.processed_at is not None and by_digest.processed_at is not None

    def test_a_retried_delivery_records_nothing_more(self, stack: Stack) -> None:
        """The same X-Atlassian-Webhook-Identifier again (Jira's retry): one receipt."""
        key = stack.jira.file_issue(
            reporter="chloe.tan@example.com", fields=complete_fields("Grading labels for phones")
        )
        stack.jira.flush_webhooks()
        [delivery] = [
            d
            for d in stack.jira.webhook_deliveries()
            if d.event == "jira:issue_created" and d.payload["issue"]["key"] == key
        ]
        body = json.dumps(delivery.payload).encode()
        headers = {
            "X-Hub-Signature": signature(WEBHOOK_SECRET, body),
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "X-Atlassian-Webhook-Retry": "1",
        }

        again = post(stack, body, headers)

        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
        assert len(events(stack, "jira_webhook")) == 2  # its identifier and its body's digest
        assert len(audits(stack, "webhook_received")) == 1
        assert len(audits(stack, "request_created")) == 1

    def test_edit_of_an_unrelated_project_is_ignored(self, stack: Stack) -> None:
        """Webhooks for projects govflow does not serve record nothing."""
        issue = {"id": "1", "key": "OTHER-1", "fields": {"summary": "x"}}
        body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": issue}).encode()

        answer = post(stack, body, {"X-Hub-Signature": signature(WEBHOOK_SECRET, body)})

        assert answer.json()["outcome"].startswith("ignored project")
        assert events(stack) == []


class TestComments:
    """A comment answers a waiting request; others are left alone."""

    def test_requester_reply_is_recorded(self, stack: Stack) -> None:
        """comment_created on a request in NEEDS_INFO records RequesterReplied once."""
        request_id = waiting_request(stack, AISYAH_ISSUE)

        comment_id = stack.jira.comment_as(AISYAH_ISSUE, REQUESTER.email or "", "Grades A to C.")
        stack.jira.flush_webhooks()

        [event] = events(stack, "requester_replied")
        assert event.dedupe_key == f"jira:comment:{comment_id}"
        assert event.payload["body"] == "Grades A to C."
        assert event.payload["actor"]["email"] == REQUESTER.email
        assert stack.triggered() == [request_id]

    def test_govflows_own_comment_is_ignored(self, stack: Stack) -> None:
        """The API user's comments (govflow's questions) are not replies."""
        waiting_request(stack, AISYAH_ISSUE)

        stack.jira.comment_as(AISYAH_ISSUE, API_USER_EMAIL, "Could you say which grades?")
        stack.jira.flush_webhooks()

        assert events(stack, "requester_replied") == []
        assert stack.triggered() == []

    def test_comment_while_nothing_waits_is_ignored(self, stack: Stack) -> None:
        """In sign-off a comment is not an answer to anything."""
        make_request(stack, AISYAH_ISSUE, signoff=True)

        stack.jira.comment_as(AISYAH_ISSUE, REQUESTER.email or "", "Any news?")
        stack.jira.flush_webhooks()

        assert events(stack, "requester_replied") == []


@pytest.fixture
def priya_in_jira(stack: Stack) -> str:
    """Priya, QA's lead in Slack, as a Jira user (the seeds share nobody between the two)."""
    return stack.jira.add_user(PRIYA.email or "", "Priya Raman", time_zone="Asia/Kolkata")


class TestRequesterLookedUp:
    """A created issue's requester is matched to a Slack user before the ticket is routed.

    The listing review-standard route asks QA for n_of: 2 of a roster of two, Priya and
    Tomas: once Priya is known as U0QA00001, her own request can never pass QA.
    """

    def test_a_qa_member_filing_is_left_out_of_qa_from_routing(
        self, stack: Stack, priya_in_jira: str
    ) -> None:
        """Never seen by govflow: one users.lookupByEmail, her Slack id, QA announced short."""
        email = PRIYA.email or ""
        with stack.sessions.begin() as session:
            assert cached_slack_answer(session, email) is None

        key = stack.jira.file_issue(reporter=email, fields=complete_fields("Graded phones"))
        stack.jira.flush_webhooks()

        assert [a.status for a in attempts(stack, key, "jira:issue_created")] == [200]
        request_id, state = request_state(stack, key)
        assert state.stage is Stage.EXPERT_REVIEW
        assert state.requester.email == email
        assert state.requester.slack_id == PRIYA.id
        assert eligible_roster(stack.rules, "qa", state.requester) == [TOMAS.id]
        [record] = audits(stack, "quorum_unreachable")
        assert record.request_id == request_id
        assert detail(record)["team"] == "qa"
        assert (detail(record)["needed"], detail(record)["eligible"]) == (2, 1)
        [call] = lookups(stack, email)
        assert call.http_status == 200
        assert len(stack.slack.calls("users.lookupByEmail")) == 1
        assert audits(stack, LOOKUP_FAILED) == []

    @pytest.mark.parametrize("email", [PRIYA.email, CHLOE], ids=["in-slack", "not-in-slack"])
    def test_an_update_of_the_same_ticket_asks_slack_no_more(
        self, stack: Stack, priya_in_jira: str, email: str
    ) -> None:
        """A found id and a 'no such user' alike: issue_updated reuses the first answer."""
        key = stack.jira.file_issue(reporter=email, fields=complete_fields("Graded phones"))
        stack.jira.flush_webhooks()
        stack.jira.edit_fields(key, {"Summary": "Graded refurbished phones"}, by=email)
        stack.jira.flush_webhooks()

        assert [a.status for a in attempts(stack, key, "jira:issue_updated")] == [200]
        received = [detail(r)["event"] for r in audits(stack, "webhook_received")]
        assert received == ["jira:issue_created", "jira:issue_updated"]
        assert len(lookups(stack, email)) == 1
        _, state = request_state(stack, key)
        assert state.requester.slack_id == (PRIYA.id if email == PRIYA.email else None)

    @pytest.mark.parametrize("fault", SLACK_FAILING)
    def test_slack_failing_still_takes_the_ticket_in(
        self, stack: Stack, priya_in_jira: str, fault: Fault
    ) -> None:
        """200 to Jira, routed without her id, audited; Slack's failure is not 'no such user'."""
        email = PRIYA.email or ""
        stack.slack.add_fault("users.lookupByEmail", fault)

        key = stack.jira.file_issue(reporter=email, fields=complete_fields("Graded phones"))
        stack.jira.flush_webhooks()

        assert [a.status for a in attempts(stack, key, "jira:issue_created")] == [200]
        request_id, state = request_state(stack, key)
        assert state.stage is Stage.EXPERT_REVIEW
        assert state.requester.slack_id is None
        [failure] = audits(stack, LOOKUP_FAILED)
        assert failure.request_id == request_id
        assert failure.detail == {"email": email}
        assert audits(stack, "quorum_unreachable") == []
        [call] = lookups(stack, email)  # fail-fast: the webhook does not wait out a retry
        assert call.http_status == fault.status
        with stack.sessions.begin() as session:
            assert cached_slack_answer(session, email) is None

        # Slack answers again: the next webhook asks anew, as nothing was cached.
        stack.jira.edit_fields(key, {"Summary": "Graded refurbished phones"}, by=email)
        stack.jira.flush_webhooks()

        assert [c.http_status for c in lookups(stack, email)] == [fault.status, 200]
        with stack.sessions.begin() as session:
            answer = cached_slack_answer(session, email)
        assert answer is not None and answer[0] == PRIYA.id
        assert len(audits(stack, LOOKUP_FAILED)) == 1
