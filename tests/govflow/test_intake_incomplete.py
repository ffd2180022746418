"""An incomplete ticket: the requester hears once per distinct list of problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.rules import Rules
from domain.ticket import FieldValue, Ticket
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from integrations.db.engine import make_sessionmaker
from integrations.db.models import OutboxRow, RequestRow
from integrations.delivery import EffectKind

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
# A review-standard change missing its business justification and proposed change.
INCOMPLETE: dict[str, FieldValue] = {
    "request_type": "Review standard change",
    "domain": "Content",
    "market": "SG",
    "description": "Generated photos pass review although they misstate the product.",
    "affected_sop": "SOP-LST-001",
}

JUSTIFIED = "Returns for 'not as pictured' rose 30% this quarter."


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


def version(n: int, summary: str, **values: FieldValue) -> Ticket:
    """The n-th version of MODREQ-40 as Jira serves it."""
    return Ticket(
        key="MODREQ-40",
        id="40",
        project="MODREQ",
        summary=summary,
        priority_name="Medium",
        reporter_account_id="acc-chloe",
        reporter_email="chloe.tan@example.com",
        reporter_name="Chloe Tan",
        updated=NOW + timedelta(minutes=n),
        values={**INCOMPLETE, "summary": summary, **values},
    )


def record(ledger: Engine, rules: Rules, ticket: Ticket) -> IntakeOutcome:
    with make_sessionmaker(ledger).begin() as session:
        context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
        return record_ticket(session, ticket, context, NOW)


def comments(ledger: Engine) -> list[str]:
    """The Jira comments queued for MODREQ-40, oldest first."""
    with make_sessionmaker(ledger).begin() as session:
        request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == "MODREQ-40"))
        rows = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.request_id == request_id, OutboxRow.kind == EffectKind.JIRA_COMMENT)
            .order_by(OutboxRow.id)
        ).all()
        return [str(r.payload["body"]) for r in rows]


class TestPleaseFix:
    def test_an_edit_that_fixes_nothing_is_not_answered_again(
        self, ledger: Engine, rules: Rules
    ) -> None:
        """Only the summary changed: the problems are the same, so no second comment."""
        assert record(ledger, rules, version(1, "AI-generated photos")) is IntakeOutcome.INCOMPLETE
        assert (
            record(ledger, rules, version(2, "AI-generated product photos"))
            is IntakeOutcome.INCOMPLETE
        )
        assert len(comments(ledger)) == 1

    def test_a_different_list_of_problems_is_told(self, ledger: Engine, rules: Rules) -> None:
        """Half fixed: the requester hears what is still missing, and only that."""
        record(ledger, rules, version(1, "AI-generated photos"))
        record(ledger, rules, version(2, "AI-generated photos", business_justification=JUSTIFIED))
        told = comments(ledger)
        assert len(told) == 2
        assert "justification" in told[0].lower() and "justification" not in told[1].lower()

    def test_problems_back_as_they_were_are_told_again(self, ledger: Engine, rules: Rules) -> None:
        """A, then B, then A: the last comment on the ticket must say what is wrong now."""
        record(ledger, rules, version(1, "AI-generated photos"))
        record(ledger, rules, version(2, "AI-generated photos", business_justification=JUSTIFIED))
        record(ledger, rules, version(3, "AI-generated photos"))
        told = comments(ledger)
        assert len(told) == 3 and told[2] == told[0]
