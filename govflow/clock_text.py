"""SLA clocks described for people: on the root card, in `govflow sla explain`, in lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from domain.calendar import BusinessCalendar
from domain.duration import format_duration
from domain.rules import Rules
from domain.sla import SlaClock, SlaState, counted_time, due_at, explain, state, target_time
from domain.sla_words import step_label, wall_clock
from domain.stages import Stage
from integrations.calendars import CalendarBook
from integrations.db.clocks import PAUSED, STOPPED, clocks_of
from integrations.db.models import SlaClockRow
from integrations.db.requests import find_request

_ZERO = timedelta(0)
STATE_LABELS = {
    SlaState.ON_TRACK: "on track",
    SlaState.AT_RISK: "at risk",
    SlaState.BREACHED: "overdue",
}


def describe(rules: Rules, row: SlaClockRow) -> str:
    """A clock's name for people, e.g. "Quality Assurance sign-off clock (round 1)"."""
    round_text = f" (round {row.round})" if row.stage == Stage.SIGN_OFF else ""
    return f"{step_label(rules, row.team, row.stage)} clock{round_text}"


def clock_lines(session: Session, request_id: int, rules: Rules, now: datetime) -> list[str]:
    """One short line per running or paused clock, for the Slack root card.

    e.g. "Quality Assurance sign-off due Tue 3 Dec 17:00 UTC+8 · at risk".
    """
    book = CalendarBook(rules)
    lines = []
    for row in clocks_of(session, request_id):
        if row.status == STOPPED:
            continue
        clock = SlaClock.model_validate(row.clock)
        calendar = book.get(row.calendar)
        step = step_label(rules, row.team, row.stage)
        if calendar is None:
            lines.append(f"{step} · calendar {row.calendar} missing from the rules")
        elif row.status == PAUSED:
            left = max(target_time(clock, calendar) - counted_time(clock, calendar, now), _ZERO)
            lines.append(f"{step} paused · {format_duration(left)} of {clock.target} left")
        else:
            where = STATE_LABELS.get(state(clock, calendar, now), "")
            lines.append(f"{step} due {when_text(due_at(clock, calendar), calendar)} · {where}")
    return lines


def explain_request(
    session: Session, jira_key: str, rules: Rules, now: datetime
) -> list[str] | None:
    """`govflow sla explain KEY`: one text block per clock of the request; None if unknown."""
    request = find_request(session, jira_key)
    if request is None:
        return None
    book = CalendarBook(rules)
    blocks = []
    for row in clocks_of(session, request.id):
        clock = SlaClock.model_validate(row.clock)
        calendar = book.get(row.calendar)
        fired = ", ".join(f"{f:.0%}" for f in clock.fired) or "none yet"
        head = (
            f"#{row.id} {describe(rules, row)}: {row.status}, policy {row.sla_policy}, "
            f"thresholds fired: {fired}"
        )
        if calendar is None:
            blocks.append(f"{head}\n  calendar {row.calendar!r} is no longer in the rules")
            continue
        blocks.append(f"{head}\n{explain(clock, calendar, now).render()}")
    return blocks


def when_text(t: datetime | None, calendar: BusinessCalendar | None) -> str:
    """An instant on the team's wall clock, e.g. "Tue 3 Dec 17:00 UTC+8"."""
    if t is None:
        return "not known while paused"
    if calendar is not None:
        return wall_clock(calendar.local(t))
    return wall_clock(t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC))
