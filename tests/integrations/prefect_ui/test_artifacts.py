"""What the Prefect UI artifacts show: the board's SLA column and artifact keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.db.models import SlaClockRow
from integrations.prefect_ui.artifacts import artifact_key, sla_summary

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def clock(team: str, status: str, due: datetime | None) -> SlaClockRow:
    return SlaClockRow(team=team, status=status, due_at=due, stage="SIGN_OFF", clock={})


class TestSlaSummary:
    def test_most_urgent_first_and_breaches_marked(self) -> None:
        """Clocks are listed by due time; a passed due time says BREACHED."""
        text = sla_summary(
            [
                clock("qa", "running", NOW + timedelta(hours=5)),
                clock("bpo_ops", "running", NOW - timedelta(minutes=1)),
                clock("product", "stopped", NOW - timedelta(days=1)),
            ],
            NOW,
        )
        assert text == "bpo_ops: due 01 Dec 08:59 UTC BREACHED; qa: due 01 Dec 14:00 UTC"

    def test_paused_clock_says_paused(self) -> None:
        """A clock paused for NEEDS_INFO shows as paused, without a due time."""
        assert sla_summary([clock("qa", "paused", None)], NOW) == "qa: paused"

    def test_no_clock_is_a_dash(self) -> None:
        """A request without running clocks shows a dash."""
        assert sla_summary([], NOW) == "-"


def test_artifact_keys_are_what_prefect_accepts() -> None:
    """Prefect artifact keys allow only lowercase letters, digits and dashes."""
    assert artifact_key("MODREQ-12") == "request-modreq-12"
    assert artifact_key("Ops_Team-7") == "request-ops-team-7"
