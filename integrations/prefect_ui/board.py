"""The PM's board: one row per open request, most urgent first, as a Prefect markdown artifact.

A row says what a PM asks of a request: which ticket (linked to Jira), where it is (in the
words the Slack cards use), who it waits on by name, each sign-off team's progress against
its quorum, the SLA as working time left or overdue with the due time on the holding team's
wall clock, the Slack thread and the request's age. A cell with nothing to say is blank.

Urgency is the earliest due time among the request's running SLA clocks, so overdue requests
come first, the most overdue at the top; requests without a running clock (paused, or not
timed) follow, oldest first. The ordering and the row limit are done by the database, so a
publication reads and words only the rows it shows: its cost follows the limit, not the
number of open requests (see `docs/benchmarks.md`).

Markdown, not a table artifact, because the Prefect UI renders links only in markdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.calendar import BusinessCalendar
from domain.duration import format_duration
from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.rules import Rules
from domain.signoff import TeamState
from domain.sla import SlaClock, counted_time, target_time
from domain.sla_words import wall_clock
from domain.stages import TERMINAL, Stage
from integrations.calendars import CalendarBook
from integrations.db.clocks import PAUSED, RUNNING
from integrations.db.models import RequestRow, SlaClockRow
from integrations.slack.blocks import STAGE_LABELS

# Rows shown by default: the most urgent first. Beyond about a thousand rows a board is no
# longer read, and the browser slows down; the header says how many more are open.
BOARD_ROWS = 1000
COLUMNS = ("request", "summary", "stage", "held by", "sign-off", "SLA", "thread", "age")
# On the page the thread link sits beside the Jira key: a narrower table fits the UI's panel.
PAGE_COLUMNS = ("request", "summary", "stage", "held by", "sign-off", "SLA", "age")
_ZERO = timedelta(0)
# Before routing there is no lifecycle state: intake asked for a fix, or triage is pending.
UNROUTED_HOLDERS = {
    Stage.NEEDS_INFO.value: "the requester (to complete the ticket)",
    Stage.RECEIVED.value: "govflow (triage)",
}
SUMMARY_WIDTH = 32
# Ids per IN list: SQLite allows 32,766 bound parameters, and long lists plan slowly anyway.
_IN_CHUNK = 1000
_PROGRESS_MARKS = {TeamState.REJECTED: " rejected", TeamState.CHANGES_REQUESTED: " changes asked"}


@dataclass(frozen=True)
class BoardRow:
    """One open request as the board shows it; every field is display text ("" = blank)."""

    key: str
    jira_url: str
    summary: str
    stage: str
    waiting_on: str
    signoff: str
    sla: str
    overdue: bool
    thread_url: str
    age: str


@dataclass(frozen=True)
class Board:
    """The rows shown, and how many requests are open in all."""

    rows: tuple[BoardRow, ...]
    open_total: int
    overdue_total: int
    now: datetime


# ---- reading the ledger ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRequest:
    """The columns of a request the board reads (plain values: no ORM objects to build)."""

    id: int
    jira_key: str
    summary: str
    stage: str
    state: dict[str, Any] | None
    facts: dict[str, Any] | None
    created_at: datetime | None

    @classmethod
    def of(cls, row: RequestRow) -> OpenRequest:
        """From a ledger row."""
        return cls(
            row.id, row.jira_key, row.summary, row.stage, row.state, row.facts, row.created_at
        )


class ClockLike(Protocol):
    """What the board reads of an SLA clock (`SlaClockRow` fits)."""

    @property
    def team(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def due_at(self) -> datetime | None: ...

    @property
    def calendar(self) -> str: ...

    @property
    def clock(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LiveClock:
    """A running or paused clock of a request shown on the board."""

    request_id: int
    team: str
    status: str
    due_at: datetime | None
    calendar: str
    clock: dict[str, Any]


def read_board(
    session: Session,
    rules: Rules,
    now: datetime,
    *,
    jira_browse_url: str,
    limit: int | None = BOARD_ROWS,
) -> Board:
    """The board as the ledger has it at `now`: the `limit` most urgent open requests."""
    terminal = [stage.value for stage in TERMINAL]
    is_open = RequestRow.stage.not_in(terminal)
    earliest = (
        select(SlaClockRow.request_id, func.min(SlaClockRow.due_at).label("due"))
        .where(SlaClockRow.status == RUNNING)
        .group_by(SlaClockRow.request_id)
        .subquery()
    )
    query = (
        select(
            RequestRow.id,
            RequestRow.jira_key,
            RequestRow.summary,
            RequestRow.stage,
            RequestRow.state,
            RequestRow.facts,
            RequestRow.created_at,
        )
        .outerjoin(earliest, earliest.c.request_id == RequestRow.id)
        .where(is_open)
        .order_by(earliest.c.due.is_(None), earliest.c.due, RequestRow.created_at, RequestRow.id)
        .limit(limit)
    )
    shown = [OpenRequest(*row) for row in session.execute(query)]
    open_total = session.scalar(select(func.count()).select_from(RequestRow).where(is_open)) or 0
    overdue_total = (
        session.scalar(
            select(func.count(func.distinct(SlaClockRow.request_id))).where(
                SlaClockRow.status == RUNNING, SlaClockRow.due_at <= now
            )
        )
        or 0
    )
    clocks: dict[int, list[LiveClock]] = {}
    ids = [request.id for request in shown]
    for chunk in range(0, len(ids), _IN_CHUNK):
        live = select(
            SlaClockRow.request_id,
            SlaClockRow.team,
            SlaClockRow.status,
            SlaClockRow.due_at,
            SlaClockRow.calendar,
            SlaClockRow.clock,
        ).where(
            SlaClockRow.request_id.in_(ids[chunk : chunk + _IN_CHUNK]),
            SlaClockRow.status.in_([RUNNING, PAUSED]),
        )
        for row in session.execute(live):
            clock = LiveClock(*row)
            clocks.setdefault(clock.request_id, []).append(clock)
    book = CalendarBook(rules)
    rows = tuple(
        board_row(
            request,
            state_of(request.state),
            clocks.get(request.id, []),
            rules=rules,
            book=book,
            now=now,
            jira_browse_url=jira_browse_url,
        )
        for request in shown
    )
    return Board(rows=rows, open_total=open_total, overdue_total=overdue_total, now=now)


def state_of(raw: dict[str, Any] | None) -> RequestState | None:
    """The request's lifecycle state from its ledger JSON; None if unrouted or unreadable."""
    if raw is None:
        return None
    try:
        return RequestState.model_validate(raw)
    except ValidationError:
        # A state from an older schema still gets its row, with what the columns say.
        return None


# ---- one row -----------------------------------------------------------------------------


def board_row(
    request: OpenRequest,
    state: RequestState | None,
    clocks: Sequence[ClockLike],
    *,
    rules: Rules,
    book: CalendarBook,
    now: datetime,
    jira_browse_url: str,
) -> BoardRow:
    """The board's row for one open request."""
    sla, overdue = sla_text(clocks, rules, book, now)
    return BoardRow(
        key=request.jira_key,
        jira_url=f"{jira_browse_url.rstrip('/')}/browse/{request.jira_key}"
        if jira_browse_url
        else "",
        summary=request.summary,
        stage=STAGE_LABELS.get(request.stage, request.stage),
        waiting_on=waiting_on_text(state, rules)
        if state is not None
        else UNROUTED_HOLDERS.get(request.stage, ""),
        signoff=signoff_progress(state, rules) if state is not None else "",
        sla=sla,
        overdue=overdue,
        thread_url=str((request.facts or {}).get("thread_url") or ""),
        age=age_text(now - request.created_at) if request.created_at is not None else "",
    )


def waiting_on_text(state: RequestState, rules: Rules) -> str:
    """Who the request waits on, by name (`RequestState.waiting_on`); blank once it is over."""
    if state.stage in TERMINAL:
        return ""
    return state.waiting_on(rules).label


def signoff_progress(state: RequestState, rules: Rules) -> str:
    """Each sign-off team's approvals against its quorum, e.g. "QA 1/2 · BPO 1/1"."""
    stage = state.resume_stage if state.stage is Stage.NEEDS_INFO else state.stage
    if stage is not Stage.SIGN_OFF:
        return ""
    parts = []
    for team in state.waiting_on(rules).signoff:
        mark = _PROGRESS_MARKS.get(team.state, "")
        parts.append(f"{team.name} {team.approvals}/{team.required}{mark}")
    return " · ".join(parts)


def sla_text(
    clocks: Iterable[ClockLike], rules: Rules, book: CalendarBook, now: datetime
) -> tuple[str, bool]:
    """The most urgent clock as working time left or overdue, due on the team's wall clock.

    e.g. "3h 30m left · due Tue 8 Dec 18:00 UTC+7", "overdue 2h · was due Mon 7 Dec 17:00 CET",
    "paused · 6h of 1d left". With several clocks (sign-off) the team is named first.
    """
    live = [c for c in clocks if c.status in (RUNNING, PAUSED)]
    if not live:
        return "", False
    running = sorted((c for c in live if c.due_at is not None), key=lambda c: c.due_at or now)
    named = len(live) > 1
    clock = running[0] if running else live[0]
    calendar = book.get(clock.calendar)
    prefix = f"{team_label(rules, clock.team)}: " if named else ""
    if calendar is None:
        return f"{prefix}calendar {clock.calendar} is not in the rules", False
    if clock.status == PAUSED or clock.due_at is None:
        value = SlaClock.model_validate(clock.clock)
        left = max(target_time(value, calendar) - counted_time(value, calendar, now), _ZERO)
        left = _whole_minutes(left)
        return f"{prefix}paused · {format_duration(left)} of {value.target} left", False
    due = clock.due_at
    when = _wall(due, calendar)
    if due <= now:
        late = _whole_minutes(calendar.business_time_between(due, now))
        return f"{prefix}overdue {format_duration(late)} · was due {when}", True
    left = _whole_minutes(calendar.business_time_between(now, due))
    return f"{prefix}{format_duration(left)} left · due {when}", False


def _whole_minutes(value: timedelta) -> timedelta:
    # Seconds of working time are noise on a board read in minutes and hours.
    return timedelta(minutes=value // timedelta(minutes=1))


def age_text(age: timedelta) -> str:
    """A request's age in wall-clock time, coarse: "4d 3h", "5h 12m", "8m"."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _wall(t: datetime, calendar: BusinessCalendar) -> str:
    return wall_clock(calendar.local(t))


# ---- markdown ----------------------------------------------------------------------------


def board_markdown(board: Board) -> str:
    """The board as a markdown table for the Prefect UI."""
    shown = len(board.rows)
    head = (
        f"{board.open_total} open · {board.overdue_total} overdue · "
        f"updated {board.now:%a %d %b %H:%M} UTC"
    )
    if shown < board.open_total:
        head += f" · showing the {shown} most urgent"
    lines = [
        "# Open requests",
        "",
        head,
        "",
        "| " + " | ".join(PAGE_COLUMNS) + " |",
        "|" + "---|" * len(PAGE_COLUMNS),
    ]
    lines += [_markdown_row(row) for row in board.rows]
    return "\n".join(lines) + "\n"


def _markdown_row(row: BoardRow) -> str:
    sla = f"**{cell(row.sla)}**" if row.overdue else cell(row.sla)
    request = link(row.key, row.jira_url)
    if row.thread_url:
        request += " · " + link("thread", row.thread_url)
    cells = (
        request,
        cell(row.summary, SUMMARY_WIDTH),
        cell(row.stage),
        cell(row.waiting_on),
        cell(row.signoff),
        sla,
        cell(row.age),
    )
    return "| " + " | ".join(cells) + " |"


def link(label: str, url: str) -> str:
    """A markdown link; just the label when the URL is not http(s)."""
    if not url.startswith(("https://", "http://")):
        return cell(label)
    # Inside link text the UI shows backslash escapes as they are: escape only what would
    # end the link or the table cell.
    text = cell(label).replace("\\_", "_").replace("\\*", "*").replace("\\`", "`")
    return f"[{text}]({url.replace(')', '%29').replace(' ', '%20')})"


_MARKDOWN_SPECIAL = str.maketrans(
    {
        "|": "\\|",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        "\n": " ",
        "\r": " ",
    }
)


def cell(text: str, limit: int = 300) -> str:
    """Text safe inside a markdown table cell: no pipes, links, tags or line breaks."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.translate(_MARKDOWN_SPECIAL)
