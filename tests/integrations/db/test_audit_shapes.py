"""One shape per audit action: `stage_changed` is the lifecycle's notice, whoever moved it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.notices import StageChanged
from domain.stages import Stage
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from integrations.db.audit import NewAudit, append_audits, audit_trail, stage_change
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow
from integrations.db.requests import find_request
from tests.govflow.test_intake_incomplete import version

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_intake_records_a_move_as_advance_does(ledger: Engine) -> None:
    """Intake's move to NEEDS_INFO: the notice in the detail, the reason in its column."""
    rules = load_rules(DEFAULT_RULES)
    context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
    with make_sessionmaker(ledger).begin() as session:
        outcome = record_ticket(session, version(1, "AI-generated photos"), context, NOW)
        assert outcome is IntakeOutcome.INCOMPLETE
        row = find_request(session, "MODREQ-40")
        assert row is not None
        moves = [a for a in audit_trail(session, row.id) if a.action == "stage_changed"]
    assert len(moves) == 1
    assert moves[0].detail == {
        "notice": {
            "kind": "stage_changed",
            "from_stage": "RECEIVED",
            "to_stage": "NEEDS_INFO",
            "reason": "ticket incomplete",
        }
    }
    assert moves[0].reason == "ticket incomplete"


def test_old_records_read_the_same(ledger: Engine) -> None:
    """A record in intake's old `{from, to}` shape reads as the same move."""
    with make_sessionmaker(ledger).begin() as session:
        old = {"from": "RECEIVED", "to": "EXPERT_REVIEW"}
        append_audits(session, [NewAudit(None, "govflow", "stage_changed", "routed", old)], NOW)
        append_audits(session, [NewAudit(None, "govflow", "routed", "", {})], NOW)
        rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id)).all())
    assert stage_change(rows[0]) == StageChanged(
        from_stage=Stage.RECEIVED, to_stage=Stage.EXPERT_REVIEW, reason="routed"
    )
    assert stage_change(rows[1]) is None
