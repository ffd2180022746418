"""The PM's board: what each cell says, blank cells, urgency order, and the markdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from domain.sla import SlaClock
from domain.stages import Stage
from integrations.calendars import CalendarBook
from integrations.db.models import RequestRow, SlaClockRow
from integrations.prefect_ui.board import (
    Board,
    BoardRow,
    OpenRequest,
    age_text,
    board_markdown,
    board_row,
    read_board,
    signoff_progress,
    sla_text,
    waiting_on_text,
)
from tests.domain.test_lifecycle import ELENA, GRACE, LUCAS, MARCO, PRIYA, Flow, make_rules

# Tuesday 1 Dec 2026, 17:00 in Kuala Lumpur (UTC+8, open 09:00-18:00 Mon-Fri).
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = make_rules()


def clock_row(
    team: str,
    status: str,
    due: datetime | None,
    *,
    request_id: int = 1,
    started: datetime = NOW - timedelta(days=1),
    paused_since: datetime | None = None,
    stage: str = "SIGN_OFF",
) -> SlaClockRow:
    clock = SlaClock(
        stage=Stage(stage), team=team, target="1d", started_at=started, paused_since=paused_since
    )
    return SlaClockRow(
        request_id=request_id,
        team=team,
        status=status,
        due_at=due,
        stage=stage,
        round=1,
        calendar="kuala_lumpur",
        sla_policy="standard",
        clock=clock.model_dump(mode="json"),
        created_at=started,
        updated_at=started,
    )


def sla(*clocks: SlaClockRow) -> tuple[str, bool]:
    return sla_text(clocks, RULES, CalendarBook(RULES), NOW)


class TestSlaCell:
    def test_time_left_is_working_time_and_due_is_on_the_team_clock(self) -> None:
        """Due Wed 11:00 local at Tue 17:00: 1 h today and 2 h tomorrow are left."""
        due = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
        assert sla(clock_row("qa", "running", due)) == (
            "3h left · due Wed 2 Dec 11:00 UTC+8",
            False,
        )

    def test_overdue_counts_working_time_since_due_and_is_flagged(self) -> None:
        """Due Mon 18:00 (closing), now Tue 17:00: overdue by Tuesday's 8 working hours."""
        due = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
        assert sla(clock_row("qa", "running", due)) == (
            "overdue 8h · was due Mon 30 Nov 18:00 UTC+8",
            True,
        )

    def test_paused_clock_says_how_much_is_left(self) -> None:
        """A clock paused for the requester: the working time left of its target."""
        started = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Tue 09:00 local
        paused = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tue 12:00 local: 3 h counted
        row = clock_row("qa", "paused", None, started=started, paused_since=paused)
        assert sla(row) == ("paused · 6h of 1d left", False)

    def test_several_clocks_show_the_most_urgent_with_its_team(self) -> None:
        """Sign-off with two teams timed: the earlier due one, named."""
        later = clock_row("qa", "running", NOW + timedelta(days=2))
        sooner = clock_row("bpo", "running", datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
        text, overdue = sla(later, sooner)
        assert text == "BPO Ops: 3h left · due Wed 2 Dec 11:00 UTC+8"
        assert not overdue

    def test_no_clock_is_blank(self) -> None:
        """Nothing timed: an empty cell, not a dash or a bullet."""
        assert sla() == ("", False)
        assert sla(clock_row("qa", "stopped", NOW)) == ("", False)


class TestWhoAndProgress:
    def test_unclaimed_then_claimed(self) -> None:
        """Expert review: the expert team by name, then the assignee by name."""
        flow = Flow.start(rules=RULES)
        assert waiting_on_text(flow.state, RULES) == "Listing Experts (unclaimed)"
        assert signoff_progress(flow.state, RULES) == ""
        flow.claim(ELENA)
        assert waiting_on_text(flow.state, RULES) == "Elena Petrova"

    def test_signoff_names_teams_still_deciding_and_counts_each(self) -> None:
        """A team that reached quorum leaves "held by" but keeps its progress."""
        flow = Flow.start(rules=RULES)
        flow.claim(ELENA)
        flow.assess(ELENA)
        assert flow.state.stage is Stage.SIGN_OFF
        flow.decide(PRIYA, "qa")
        flow.decide(GRACE, "bpo")
        flow.decide(MARCO, "bpo")
        assert waiting_on_text(flow.state, RULES) == "QA, Product"
        assert signoff_progress(flow.state, RULES) == "QA 1/2 · BPO Ops 2/2 · Product 0/1"

    def test_question_to_the_requester_keeps_the_progress(self) -> None:
        """Paused in sign-off for a question: the requester by name, the counts kept."""
        flow = Flow.start(rules=RULES)
        flow.claim(ELENA)
        flow.assess(ELENA)
        flow.decide(PRIYA, "qa")
        flow.ask(PRIYA)
        assert waiting_on_text(flow.state, RULES) == f"{LUCAS.name} (to answer a question)"
        assert signoff_progress(flow.state, RULES) == "QA 1/2 · BPO Ops 0/2 · Product 0/1"


def test_age_is_coarse() -> None:
    """Days and hours, hours and minutes, or minutes."""
    assert age_text(timedelta(days=4, hours=3, minutes=59)) == "4d 3h"
    assert age_text(timedelta(hours=5, minutes=12)) == "5h 12m"
    assert age_text(timedelta(seconds=59)) == "0m"


class TestMarkdown:
    def row(self, **changes: Any) -> BoardRow:
        fields: dict[str, Any] = {
            "key": "MODREQ-8",
            "jira_url": "https://jira.example.com/browse/MODREQ-8",
            "summary": "Tighten | the [replica](javascript:x) rule\nnow",
            "stage": "Stakeholder sign-off",
            "waiting_on": "QA",
            "signoff": "QA 0/2",
            "sla": "overdue 2h · was due Mon 30 Nov 18:00 UTC+8",
            "overdue": True,
            "thread_url": "https://example.slack.com/archives/C0QA00001/p1700000000000100",
            "age": "2d 1h",
        }
        return BoardRow(**{**fields, **changes})

    def test_links_blank_cells_and_escapes(self) -> None:
        """Jira and thread links, overdue in bold, user text escaped, empty cells empty."""
        quiet = self.row(
            key="MODREQ-9",
            jira_url="https://jira.example.com/browse/MODREQ-9",
            signoff="",
            sla="",
            overdue=False,
            thread_url="",
            waiting_on="",
        )
        board = Board(rows=(self.row(), quiet), open_total=2, overdue_total=1, now=NOW)
        lines = board_markdown(board).splitlines()
        assert lines[2] == "2 open · 1 overdue · updated Tue 01 Dec 09:00 UTC"
        assert lines[4] == "| request | summary | stage | held by | sign-off | SLA | age |"
        assert lines[6] == (
            "| [MODREQ-8](https://jira.example.com/browse/MODREQ-8) · "
            "[thread](https://example.slack.com/archives/C0QA00001/p1700000000000100) | "
            "Tighten \\| the \\[replica\\](javascr… | Stakeholder sign-off | QA | "
            "QA 0/2 | **overdue 2h · was due Mon 30 Nov 18:00 UTC+8** | 2d 1h |"
        )
        assert lines[7] == (
            "| [MODREQ-9](https://jira.example.com/browse/MODREQ-9) | "
            "Tighten \\| the \\[replica\\](javascr… | Stakeholder sign-off |  |  |  "
            "| 2d 1h |"
        )
        assert "•" not in "\n".join(lines) and "| - |" not in "\n".join(lines)

    def test_header_says_when_rows_were_left_out(self) -> None:
        """A board limited to the most urgent says so."""
        board = Board(rows=(self.row(),), open_total=10_000, overdue_total=3, now=NOW)
        assert board_markdown(board).splitlines()[2].endswith("showing the 1 most urgent")


def add_request(session: Session, key: str, created: datetime, stage: str = "SIGN_OFF") -> int:
    row = RequestRow(
        jira_key=key,
        jira_id=key,
        project="MODREQ",
        summary=f"request {key}",
        stage=stage,
        facts={},
        jira_updated=created,
        created_at=created,
        updated_at=created,
    )
    session.add(row)
    session.flush()
    return row.id


class TestReadBoard:
    def test_most_urgent_first_then_untimed_oldest_first(self, ledger: Engine) -> None:
        """Overdue first, then by due time, then requests without a running clock by age."""
        with Session(ledger) as session, session.begin():
            day = timedelta(days=1)
            ids = {
                key: add_request(session, key, NOW - age * day)
                for key, age in [("A-1", 1), ("A-2", 2), ("A-3", 3), ("A-4", 4), ("A-5", 5)]
            }
            add_request(session, "A-6", NOW - 9 * day, stage="DONE")
            session.add_all(
                [
                    clock_row("qa", "running", NOW + day, request_id=ids["A-1"]),
                    clock_row("qa", "running", NOW - day, request_id=ids["A-2"]),
                    clock_row("bpo", "running", NOW + 3 * day, request_id=ids["A-2"]),
                    clock_row("qa", "paused", None, request_id=ids["A-3"]),
                    clock_row("qa", "stopped", NOW - 5 * day, request_id=ids["A-5"]),
                ]
            )
        with Session(ledger) as session:
            board = read_board(session, RULES, NOW, jira_browse_url="https://jira.example.com")
            limited = read_board(session, RULES, NOW, jira_browse_url="", limit=2)
        assert [r.key for r in board.rows] == ["A-2", "A-1", "A-5", "A-4", "A-3"]
        assert (board.open_total, board.overdue_total) == (5, 1)
        assert board.rows[0].overdue and board.rows[0].jira_url.endswith("/browse/A-2")
        assert [r.key for r in limited.rows] == ["A-2", "A-1"]
        assert limited.open_total == 5


def test_unrouted_request_waits_on_its_requester() -> None:
    """Intake asked for a fix before routing (no lifecycle state): the requester holds it."""
    request = OpenRequest(1, "MODREQ-3", "s", "NEEDS_INFO", None, {}, NOW - timedelta(hours=2))
    row = board_row(
        request, None, [], rules=RULES, book=CalendarBook(RULES), now=NOW, jira_browse_url=""
    )
    assert (row.stage, row.waiting_on, row.sla, row.age) == (
        "Waiting on requester",
        "the requester (to complete the ticket)",
        "",
        "2h 0m",
    )
