"""The cycle-time report: how long each stage took, split into working, off-hours and paused time.

Its unit is a finished SLA clock: one stage of one request, for one team (and sign-off round),
from when govflow gave the team the work to when the team's part ended. A clock already
records what the report needs: when it started, its pauses (the request waited on the
requester) and when it stopped; its team's calendar says which of the rest was working time.
For each clock:
- total: wall time from start to stop;
- paused: the wall time of its pauses;
- working: working time on the team's calendar outside the pauses (what the SLA counts);
- off-hours: the rest (nights, weekends, public holidays, closed days);
- breached: its breach threshold fired, or it stopped after its due time.

Clocks are in the report when they stopped inside `[since, until)`. Groups are by stage, team,
request type or market; each has p50 and p90 of the four times (nearest rank: the value at
position ceil(q x n) in ascending order), SLA met and breached counts, and the clocks of sign-off
rounds after the first (work repeated after changes were requested or the drafts changed).
Pure functions over plain values; `read_finished` is the one that reads the ledger.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.calendar import BusinessCalendar
from domain.entitlement import team_label
from domain.rules import Rules
from domain.sla import BREACH, SlaClock, counted_time
from integrations.calendars import CalendarBook
from integrations.db.clocks import STOPPED
from integrations.db.models import RequestRow, SlaClockRow
from integrations.slack.blocks import STAGE_LABELS

_ZERO = timedelta(0)


class GroupBy(StrEnum):
    """What the report's rows are."""

    STAGE = "stage"
    TEAM = "team"
    TYPE = "type"
    MARKET = "market"


@dataclass(frozen=True)
class StageTime:
    """One finished clock, its time split."""

    jira_key: str
    stage: str
    team: str
    request_type: str
    market: str
    round: int
    started_at: datetime
    stopped_at: datetime
    working: timedelta
    off_hours: timedelta
    paused: timedelta
    breached: bool

    @property
    def total(self) -> timedelta:
        """Wall time from start to stop."""
        return self.working + self.off_hours + self.paused


@dataclass(frozen=True)
class Row:
    """One group of the report; times in hours."""

    group: str
    count: int
    p50_total: float
    p90_total: float
    p50_working: float
    p90_working: float
    p50_off_hours: float
    p90_off_hours: float
    p50_paused: float
    p90_paused: float
    sla_met: int
    sla_breached: int
    repeat_rounds: int


def split_time(clock: SlaClock, calendar: BusinessCalendar) -> tuple[timedelta, ...]:
    """(working, off-hours, paused) of a stopped clock on its team's calendar."""
    if clock.stopped_at is None:
        raise ValueError("only a stopped clock has a cycle time")
    end = clock.stopped_at
    paused = sum((span.end - span.start for span in clock.pauses), _ZERO)
    working = counted_time(clock, calendar, end)
    off = (end - clock.started_at) - working - paused
    return working, off, paused


def stage_time(
    row: SlaClockRow, request: RequestRow, calendar: BusinessCalendar
) -> StageTime | None:
    """The cycle time of one stopped clock row; None if it never stopped."""
    clock = SlaClock.model_validate(row.clock)
    if clock.stopped_at is None:
        return None
    working, off, paused = split_time(clock, calendar)
    late = row.due_at is not None and clock.stopped_at > row.due_at
    return StageTime(
        jira_key=request.jira_key,
        stage=row.stage,
        team=row.team,
        request_type=request.request_type or "",
        market=request.market or "",
        round=row.round,
        started_at=clock.started_at,
        stopped_at=clock.stopped_at,
        working=working,
        off_hours=off,
        paused=paused,
        breached=BREACH in clock.fired or late,
    )


def read_finished(
    session: Session, rules: Rules, since: datetime, until: datetime
) -> list[StageTime]:
    """Every clock that stopped in `[since, until)`, its time split on its team's calendar."""
    query = (
        select(SlaClockRow, RequestRow)
        .join(RequestRow, RequestRow.id == SlaClockRow.request_id)
        .where(SlaClockRow.status == STOPPED)
        .where(SlaClockRow.updated_at >= since)  # a stopped clock is not written again
        .order_by(SlaClockRow.id)
    )
    book = CalendarBook(rules)
    found = []
    for row, request in session.execute(query):
        calendar = book.get(row.calendar)
        if calendar is None:
            continue  # its calendar left the rules: no way to tell working time
        item = stage_time(row, request, calendar)
        if item is not None and since <= item.stopped_at < until:
            found.append(item)
    return found


def nearest_rank(values: Sequence[timedelta], q: float) -> timedelta:
    """The q-th quantile by nearest rank (the value at ceil(q x n), 1-based, ascending)."""
    if not values:
        return _ZERO
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def group_key(by: GroupBy, rules: Rules) -> Callable[[StageTime], str]:
    """How a clock's group is named in the report."""
    match by:
        case GroupBy.STAGE:
            return lambda t: STAGE_LABELS.get(t.stage, t.stage)
        case GroupBy.TEAM:
            return lambda t: team_label(rules, t.team)
        case GroupBy.TYPE:
            return lambda t: _type_label(rules, t.request_type)
        case GroupBy.MARKET:
            return lambda t: t.market or "(none)"


def report_rows(times: Iterable[StageTime], by: GroupBy, rules: Rules) -> list[Row]:
    """One row per group, in name order."""
    key = group_key(by, rules)
    groups: dict[str, list[StageTime]] = {}
    for item in times:
        groups.setdefault(key(item), []).append(item)
    return [_row(name, items) for name, items in sorted(groups.items())]


def _row(name: str, items: Sequence[StageTime]) -> Row:
    def pair(of: Callable[[StageTime], timedelta]) -> tuple[float, float]:
        values = [of(i) for i in items]
        return _hours(nearest_rank(values, 0.5)), _hours(nearest_rank(values, 0.9))

    total, working = pair(lambda i: i.total), pair(lambda i: i.working)
    off, paused = pair(lambda i: i.off_hours), pair(lambda i: i.paused)
    breached = sum(1 for i in items if i.breached)
    return Row(
        group=name,
        count=len(items),
        p50_total=total[0],
        p90_total=total[1],
        p50_working=working[0],
        p90_working=working[1],
        p50_off_hours=off[0],
        p90_off_hours=off[1],
        p50_paused=paused[0],
        p90_paused=paused[1],
        sla_met=len(items) - breached,
        sla_breached=breached,
        repeat_rounds=sum(1 for i in items if i.round > 1),
    )


def _hours(value: timedelta) -> float:
    return round(value.total_seconds() / 3600, 2)


def _type_label(rules: Rules, key: str) -> str:
    found = rules.request_types.get(key)
    return found.label if found is not None else (key or "(none)")


# ---- formats -----------------------------------------------------------------------------

HEADERS = (
    ("group", "group"),
    ("count", "n"),
    ("p50_total", "p50 total h"),
    ("p90_total", "p90 total h"),
    ("p50_working", "p50 working h"),
    ("p90_working", "p90 working h"),
    ("p50_off_hours", "p50 off-hours h"),
    ("p90_off_hours", "p90 off-hours h"),
    ("p50_paused", "p50 paused h"),
    ("p90_paused", "p90 paused h"),
    ("sla_met", "SLA met"),
    ("sla_breached", "SLA breached"),
    ("repeat_rounds", "repeat rounds"),
)


def as_table(rows: Sequence[Row]) -> str:
    """Aligned text columns, numbers right-aligned."""
    cells = [[label for _, label in HEADERS]]
    cells += [[_text(getattr(r, field)) for field, _ in HEADERS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(cells):
        parts = [
            v.ljust(w) if i == 0 or n == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def as_csv(rows: Sequence[Row]) -> str:
    """CSV with a header line, times in hours."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([field for field, _ in HEADERS])
    for row in rows:
        writer.writerow([getattr(row, field) for field, _ in HEADERS])
    return out.getvalue()


def as_json(rows: Sequence[Row], *, since: datetime, until: datetime, by: GroupBy) -> str:
    """JSON: the window, the grouping and the rows."""
    body: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "by": by.value,
        "unit": "hours",
        "rows": [asdict(r) for r in rows],
    }
    return json.dumps(body, indent=2) + "\n"


def as_markdown(rows: Sequence[Row], *, since: datetime, until: datetime, by: GroupBy) -> str:
    """The weekly report as a markdown page (Prefect artifact, Slack digest)."""
    lines = [
        f"# Cycle time by {by.value}, {since:%a %d %b} to {until:%a %d %b %Y} (UTC)",
        "",
        "Hours per finished stage: p50 / p90. Working time is on the team's calendar; paused "
        "is time waiting on the requester.",
        "",
        "| " + " | ".join(label for _, label in HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(_text(getattr(r, f)) for f, _ in HEADERS) + " |" for r in rows]
    if not rows:
        lines.append("| no stage finished in this window |" + " |" * (len(HEADERS) - 1))
    return "\n".join(lines) + "\n"


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
