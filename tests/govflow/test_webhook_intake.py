"""What a Jira webhook delivery records (`govflow.webhook_intake`), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.rules import Rules
from govflow.intake import IntakeContext
from govflow.webhook_intake import Delivery, take_comment, take_issue
from integrations.db.events import record_event
from integrations.db.models import AuditRow, EventRow, RequestRow
from tests.govflow.test_advance import KEY, REQUESTER, ticket

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
# The complete review-standard change of the advance tests, filed by Chloe.
CHLOE = REQUESTER


def deliver(sessions: sessionmaker[Session], rules: Rules, identifier: str) -> Delivery:
    """One `jira:issue_created` delivery of the ticket, committed as the endpoint does."""
    context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
    with sessions() as session:
        delivery = take_issue(
            session,
            ticket(),
            context,
            event="jira:issue_created",
            identifiers=(identifier, f"sha256:{identifier}"),
            changed_fields=(),
            lookup_failure=None,
            now=NOW,
        )
        session.commit()
    return delivery


def test_an_issue_is_taken_in_once_per_delivery(
    sessions: sessionmaker[Session], rules: Rules
) -> None:
    """Intake with a `webhook_received` audit; the same delivery again is undone whole."""
    first = deliver(sessions, rules, "delivery-1")
    again = deliver(sessions, rules, "delivery-1")

    assert first.outcome == "intake" and first.to_advance == first.request_id
    assert again == Delivery("duplicate", first.request_id)
    assert again.to_advance is None
    with sessions.begin() as session:
        [received] = session.scalars(select(AuditRow).where(AuditRow.action == "webhook_received"))
        assert received.detail["identifier"] == "delivery-1"
        assert received.detail["intake"] == "routed"
        receipts = session.scalars(select(EventRow).where(EventRow.kind == "jira_webhook"))
        assert all(r.processed_at is not None for r in receipts)


def test_a_comment_is_a_reply_only_while_the_request_waits_for_one(
    sessions: sessionmaker[Session], rules: Rules
) -> None:
    """Unknown request or nobody asked: ignored, nothing recorded."""
    with sessions.begin() as session:
        unknown = take_comment(session, KEY, "9001", "Here you go", CHLOE, NOW)
    deliver(sessions, rules, "delivery-2")
    with sessions.begin() as session:
        row = session.scalars(select(RequestRow)).one()
        not_asked = take_comment(session, KEY, "9002", "Any news?", CHLOE, NOW)
        replies = session.scalars(select(EventRow).where(EventRow.kind == "requester_replied"))

        assert unknown == Delivery("ignored unknown request")
        assert not_asked == Delivery("ignored: not waiting for an answer", row.id)
        assert list(replies) == []


def test_a_reply_to_a_question_not_yet_applied_is_recorded_once(
    sessions: sessionmaker[Session], rules: Rules
) -> None:
    """A question waits unapplied: the comment becomes `RequesterReplied`, once per comment."""
    deliver(sessions, rules, "delivery-3")
    with sessions.begin() as session:
        row = session.scalars(select(RequestRow)).one()
        record_event(
            session,
            request_id=row.id,
            kind="ask_requester",
            actor="fatima@example.com",
            payload={},
            dedupe_key="question-1",
            now=NOW,
        )
        first = take_comment(session, KEY, "9003", "The certificate is attached.", CHLOE, NOW)
        again = take_comment(session, KEY, "9003", "The certificate is attached.", CHLOE, NOW)
        [reply] = session.scalars(select(EventRow).where(EventRow.kind == "requester_replied"))

        assert first == Delivery("recorded", row.id) and first.to_advance == row.id
        assert again == Delivery("duplicate", row.id)
        assert reply.dedupe_key == "jira:comment:9003"
