"""Routing a request whose requester's exclusion leaves a sign-off team short of its quorum."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.rules import Rules
from domain.ticket import Ticket
from govflow.intake import IntakeContext, record_ticket
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, OutboxRow, RequestRow
from integrations.delivery import EffectKind
from integrations.slack.identity import remember

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
PRIYA = "priya.raman@example.com"  # QA lead, Slack U0QA00001; QA asks n_of: 2 of 2
CHLOE = "chloe.tan@example.com"  # QA in Jira, on no govflow roster


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


def content_ticket(key: str, email: str, updated: datetime = NOW) -> Ticket:
    """A complete content review-standard change: QA (n_of: 2) and BPO sign off."""
    return Ticket(
        key=key,
        id=key.rsplit("-", 1)[1],
        project="MODREQ",
        summary="Stricter review of AI-generated product photos",
        priority_name="Medium",
        reporter_account_id=f"acc-{email.split('.')[0]}",
        reporter_email=email,
        reporter_name=email.split("@")[0],
        updated=updated,
        values={
            "request_type": "Review standard change",
            "domain": "Content",
            "market": "SG",
            "summary": "Stricter review of AI-generated product photos",
            "description": "Generated photos pass review although they misstate the product.",
            "business_justification": "Returns for 'not as pictured' rose 30%.",
            "affected_sop": "SOP-LST-001",
            "proposed_change": "Reject listings whose main photo is generated.",
        },
    )


def route(ledger: Engine, rules: Rules, ticket: Ticket) -> tuple[list[OutboxRow], list[AuditRow]]:
    """Record the ticket; the request's outbox rows and quorum_unreachable audit records."""
    sessions = make_sessionmaker(ledger)
    with sessions.begin() as session:
        context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
        record_ticket(session, ticket, context, NOW)
    with sessions.begin() as session:
        request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == ticket.key))
        outbox = session.scalars(
            select(OutboxRow).where(OutboxRow.request_id == request_id).order_by(OutboxRow.id)
        ).all()
        audit = session.scalars(
            select(AuditRow)
            .where(AuditRow.request_id == request_id, AuditRow.action == "quorum_unreachable")
            .order_by(AuditRow.id)
        ).all()
        return list(outbox), list(audit)


def warnings_in(outbox: list[OutboxRow]) -> list[OutboxRow]:
    return [r for r in outbox if "unreachable" in r.idempotency_key]


class TestUnreachableQuorumAtRouting:
    def test_a_qa_member_filing_is_told_in_the_thread_and_on_jira(
        self, ledger: Engine, rules: Rules
    ) -> None:
        """QA's n_of: 2 of a roster of 2 cannot pass a QA member's request: said at once."""
        with make_sessionmaker(ledger).begin() as session:
            remember(session, email=PRIYA, slack_id="U0QA00001", now=NOW)

        outbox, audit = route(ledger, rules, content_ticket("MODREQ-71", PRIYA))

        reply, comment = warnings_in(outbox)
        assert reply.kind == EffectKind.SLACK_REPLY
        assert comment.kind == EffectKind.JIRA_COMMENT
        text = comment.payload["body"]
        assert text.startswith("Quality Assurance sign-off of MODREQ-71 cannot be reached")
        assert "route review-standard-content asks for 2 approvals (n_of: 2)" in text
        assert "leaves 1 of its 2 approvers" in text
        assert "add an approver to teams.qa.roster" in text
        assert reply.payload["text"] == f":warning: {text}"
        [record] = audit
        assert record.detail == {
            "team": "qa",
            "route": "review-standard-content",
            "round": 0,
            "needed": 2,
            "roster": 2,
            "eligible": 1,
        }

    def test_someone_off_the_rosters_gets_no_warning(self, ledger: Engine, rules: Rules) -> None:
        """Every quorum stays reachable for a requester on no sign-off roster."""
        outbox, audit = route(ledger, rules, content_ticket("MODREQ-72", CHLOE))

        assert warnings_in(outbox) == []
        assert audit == []
        assert any(r.idempotency_key == "MODREQ-72:acknowledged" for r in outbox)

    def test_said_once_however_often_the_ticket_comes_in(
        self, ledger: Engine, rules: Rules
    ) -> None:
        """A redelivered or edited ticket after routing adds no second warning."""
        with make_sessionmaker(ledger).begin() as session:
            remember(session, email=PRIYA, slack_id="U0QA00001", now=NOW)
        route(ledger, rules, content_ticket("MODREQ-73", PRIYA))
        later = NOW.replace(hour=5)
        edited = content_ticket("MODREQ-73", PRIYA, updated=later).model_copy(
            update={"summary": "Stricter review of generated photos"}
        )

        outbox, audit = route(ledger, rules, edited)

        assert len(warnings_in(outbox)) == 2
        assert len(audit) == 1
