"""`govflow report`: cycle times checked against hand-computed cases on the shipped calendars.

Governance works in Dublin (09:00-17:30, Irish public holidays); Irish summer time ends on
Sunday 25 October 2026 and Monday 26 October is the October Bank Holiday, both inside clock A's
wait. The listing experts work in Bangkok (09:00-18:00, UTC+7).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.sla import PausedSpan, SlaClock
from domain.stages import Stage
from govflow.cli import app
from govflow.report import GroupBy, read_finished, report_rows, split_time
from integrations.calendars import CalendarBook
from integrations.db.models import RequestRow, SlaClockRow

RULES = load_rules(DEFAULT_RULES)
SINCE = datetime(2026, 10, 19, tzinfo=UTC)
UNTIL = datetime(2026, 11, 10, tzinfo=UTC)
H = timedelta(hours=1)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# A: governance sign-off, Fri 23 Oct 09:00 IST to Tue 27 Oct 12:00 GMT, paused 12:00-15:00 Fri.
CLOCK_A = SlaClock(
    stage=Stage.SIGN_OFF,
    team="governance",
    target="1d",
    started_at=utc(10, 23, 8),
    pauses=(PausedSpan(start=utc(10, 23, 11), end=utc(10, 23, 14)),),
    stopped_at=utc(10, 27, 12),
)
# B: governance sign-off, round 2, Mon 2 Nov 09:00-13:00 GMT, breached.
CLOCK_B = SlaClock(
    stage=Stage.SIGN_OFF,
    team="governance",
    target="2h",
    started_at=utc(11, 2, 9),
    stopped_at=utc(11, 2, 13),
    fired=(0.5, 1.0),
)
# C: listing experts' review, Wed 4 Nov 09:00-20:00 in Bangkok.
CLOCK_C = SlaClock(
    stage=Stage.EXPERT_REVIEW,
    team="listing_experts",
    target="2d",
    started_at=utc(11, 4, 2),
    stopped_at=utc(11, 4, 13),
)
# D: stopped after the window.
CLOCK_D = SlaClock(
    stage=Stage.EXPERT_REVIEW,
    team="listing_experts",
    target="2d",
    started_at=utc(11, 19, 2),
    stopped_at=utc(11, 20, 3),
)


class TestSplitTime:
    def test_dst_change_and_public_holiday_inside_the_wait(self) -> None:
        """100 h of wall time (not 101: the clocks went back), 8.5 h worked, 3 h paused."""
        dublin = CalendarBook(RULES).get("dublin")
        assert dublin is not None
        working, off, paused = split_time(CLOCK_A, dublin)
        # Fri 09:00-12:00 and 15:00-17:30, Mon a bank holiday, Tue 09:00-12:00.
        assert working == 8.5 * H
        assert paused == 3 * H
        assert working + off + paused == 100 * H
        assert off == 88.5 * H

    def test_a_running_clock_has_no_cycle_time(self) -> None:
        """Only finished stages are reported."""
        running = CLOCK_A.model_copy(update={"stopped_at": None})
        dublin = CalendarBook(RULES).get("dublin")
        assert dublin is not None
        with pytest.raises(ValueError, match="stopped"):
            split_time(running, dublin)


def fill(session: Session) -> None:
    """Two requests with the four clocks above."""
    for n, (request_type, market) in enumerate(
        [("review_standard_change", "MY"), ("new_category_sop", "SG")], start=1
    ):
        session.add(
            RequestRow(
                id=n,
                jira_key=f"MODREQ-{n}",
                jira_id=str(n),
                project="MODREQ",
                stage="DONE",
                request_type=request_type,
                market=market,
                facts={},
                jira_updated=SINCE,
                created_at=SINCE,
                updated_at=SINCE,
            )
        )
    session.flush()
    calendars = {"governance": "dublin", "listing_experts": "bangkok"}
    for request_id, round_, clock, due in [
        (1, 1, CLOCK_A, utc(10, 27, 13)),
        (1, 2, CLOCK_B, utc(11, 2, 11)),
        (2, 0, CLOCK_C, utc(11, 5, 13)),
        (2, 1, CLOCK_D, utc(11, 21, 3)),
    ]:
        assert clock.team is not None and clock.stopped_at is not None
        session.add(
            SlaClockRow(
                request_id=request_id,
                stage=clock.stage.value,
                team=clock.team,
                round=round_,
                calendar=calendars[clock.team],
                sla_policy="standard",
                clock=clock.model_dump(mode="json"),
                status="stopped",
                due_at=due,
                created_at=clock.started_at,
                updated_at=clock.stopped_at,
            )
        )


class TestReport:
    def test_by_stage_hand_computed(self, ledger: Engine) -> None:
        """p50/p90 by nearest rank; SLA met and breached; sign-off round 2 counted."""
        with Session(ledger) as session, session.begin():
            fill(session)
        with Session(ledger) as session:
            times = read_finished(session, RULES, SINCE, UNTIL)
        assert sorted(t.jira_key + t.stage for t in times) == [
            "MODREQ-1SIGN_OFF",
            "MODREQ-1SIGN_OFF",
            "MODREQ-2EXPERT_REVIEW",
        ]
        review, signoff = report_rows(times, GroupBy.STAGE, RULES)
        assert (review.group, review.count) == ("Expert review", 1)
        # Bangkok 09:00-20:00: 9 h of working time, 2 h after closing.
        assert (review.p50_total, review.p50_working, review.p50_off_hours) == (11.0, 9.0, 2.0)
        assert (review.sla_met, review.sla_breached) == (1, 0)
        assert signoff.group == "Stakeholder sign-off"
        # Totals [100, 4]: p50 is the 1st of 2, p90 the 2nd.
        assert (signoff.p50_total, signoff.p90_total) == (4.0, 100.0)
        assert (signoff.p50_working, signoff.p90_working) == (4.0, 8.5)
        assert (signoff.p50_off_hours, signoff.p90_off_hours) == (0.0, 88.5)
        assert (signoff.p50_paused, signoff.p90_paused) == (0.0, 3.0)
        assert (signoff.sla_met, signoff.sla_breached, signoff.repeat_rounds) == (1, 1, 1)

    def test_by_team_type_and_market(self, ledger: Engine) -> None:
        """Groups named as people know them."""
        with Session(ledger) as session, session.begin():
            fill(session)
        with Session(ledger) as session:
            times = read_finished(session, RULES, SINCE, UNTIL)
        teams = [(r.group, r.count) for r in report_rows(times, GroupBy.TEAM, RULES)]
        assert teams == [("Listing Experts", 1), ("Policy Governance", 2)]
        markets = [(r.group, r.count) for r in report_rows(times, GroupBy.MARKET, RULES)]
        assert markets == [("MY", 2), ("SG", 1)]
        types = {r.group for r in report_rows(times, GroupBy.TYPE, RULES)}
        assert types == {
            RULES.request_types["review_standard_change"].label,
            RULES.request_types["new_category_sop"].label,
        }


class TestCommand:
    def test_csv_json_and_chart(
        self,
        ledger: Engine,
        database_url: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The command reads the configured ledger; every format says the same numbers."""
        with Session(ledger) as session, session.begin():
            fill(session)
        monkeypatch.setenv("GOVFLOW_DATABASE_URL", database_url)
        window = ["--since", "2026-10-19", "--until", "2026-11-10"]
        runner = CliRunner()
        found = runner.invoke(app, ["report", *window, "--format", "csv"])
        assert found.exit_code == 0, found.output
        rows = list(csv.DictReader(io.StringIO(found.stdout)))
        assert [(r["group"], r["p90_total"], r["sla_breached"]) for r in rows] == [
            ("Expert review", "11.0", "0"),
            ("Stakeholder sign-off", "100.0", "1"),
        ]
        chart = tmp_path / "cycle.png"
        found = runner.invoke(
            app, ["report", *window, "--by", "team", "--format", "json", "--chart", str(chart)]
        )
        assert found.exit_code == 0, found.output
        body = json.loads(found.stdout)
        assert body["by"] == "team" and body["unit"] == "hours"
        assert [r["group"] for r in body["rows"]] == ["Listing Experts", "Policy Governance"]
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        table = runner.invoke(app, ["report", *window]).stdout.splitlines()
        assert table[0].split()[:3] == ["group", "n", "p50"]
        assert table[2].startswith("Expert review")
