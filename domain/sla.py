"""SLA clocks as immutable values, and when their warnings and breach fall due.

A clock counts working time on its team's `BusinessCalendar` from `started_at`, except while
paused (NEEDS_INFO); pausing therefore pushes every later instant out by exactly the working
time the pause covered. The target ("4h", "5d") is working time on that calendar, a day
being one full regular working day (see `domain.duration`).

Thresholds are fractions of the target: the policy's `warn_at` (0.5, 0.75), escalation steps'
`at` (up to 2.0) and 1.0, the breach. Threshold f falls due at the earliest instant at which
the counted working time reaches f x target (rounded to the microsecond), so a 5d target
started on Monday 09:00 is due, and breached, at Friday 18:00 sharp, not Monday morning.
A threshold is identified by its fraction; the clock remembers the ones already fired, so
each fires once: a late watchdog, or a machine clock that jumped forward, gets every skipped
threshold at once in ascending order; a clock that jumped backward gets nothing it already
had. A paused clock still fires thresholds it crossed before the pause; a stopped one fires
nothing, because the work it timed is over.

A clock's thresholds do not move until the clock is paused, resumed or stopped (or its
calendar or thresholds change), so `threshold_schedule` works their instants out once, and
`scheduled_due` / `scheduled_next` then answer `due_thresholds` / `next_fire_at` by comparing
instants: the watchdog does no calendar arithmetic on its hot path.

States, first that applies: stopped, paused, breached (counted >= target), at_risk (the
first `warn_at` threshold reached), on_track.

`now` is always an argument. A `now` earlier than the clock's last recorded change (the
machine clock went backwards) is read as that change's instant, so spans never go negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    field_serializer,
    field_validator,
    model_validator,
)

from domain.calendar import BusinessCalendar, DayKind, Interval
from domain.duration import BusinessDuration, format_duration
from domain.duration import parse_duration as parse_duration
from domain.errors import InvalidTransition
from domain.stages import Stage

_ZERO = timedelta(0)
BREACH = 1.0


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware")
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_aware_utc)]


class SlaState(StrEnum):
    """Where a clock stands against its target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    STOPPED = "stopped"


class PausedSpan(BaseModel):
    """A closed pause: working time in `[start, end)` does not count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: UtcDateTime
    end: UtcDateTime


class SlaClock(BaseModel):
    """One SLA clock of one stage (and team, in sign-off); the ledger stores it as is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    team: str | None = None
    target: BusinessDuration
    warn_at: tuple[float, ...] = ()
    started_at: UtcDateTime
    pauses: tuple[PausedSpan, ...] = ()
    paused_since: UtcDateTime | None = None
    stopped_at: UtcDateTime | None = None
    fired: tuple[float, ...] = ()

    @field_validator("target", mode="before")
    @classmethod
    def _parse_target(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_serializer("target")
    def _target_text(self, value: BusinessDuration) -> str:
        return str(value)

    @field_validator("warn_at", "fired")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f <= 2 for f in value):
            raise ValueError(f"thresholds are fractions in (0, 2]: {value}")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _in_order(self) -> SlaClock:
        # Instants out of order would count working time twice or backwards.
        marks = [self.started_at]
        for span in self.pauses:
            marks += [span.start, span.end]
        marks += [t for t in (self.paused_since, self.stopped_at) if t is not None]
        if any(later < earlier for earlier, later in pairwise(marks)):
            raise ValueError("clock instants must not go backwards")
        if self.paused_since is not None and self.stopped_at is not None:
            raise ValueError("a stopped clock cannot still be paused")
        return self


def start_clock(
    *,
    stage: Stage,
    target: BusinessDuration | str,
    now: datetime,
    warn_at: Iterable[float],
    team: str | None = None,
) -> SlaClock:
    """A running clock for `stage` (and `team`) started at `now`."""
    return SlaClock(
        stage=stage,
        team=team,
        target=parse_duration(target) if isinstance(target, str) else target,
        warn_at=tuple(warn_at),
        started_at=now,
    )


def pause(clock: SlaClock, now: datetime) -> SlaClock:
    """Stop counting from `now` on; pausing a paused clock changes nothing."""
    _require_not_stopped(clock, "pause")
    if clock.paused_since is not None:
        return clock
    return clock.model_copy(update={"paused_since": _after_last_change(clock, now)})


def resume(clock: SlaClock, now: datetime) -> SlaClock:
    """Count again from `now` on; resuming a running clock changes nothing."""
    _require_not_stopped(clock, "resume")
    if clock.paused_since is None:
        return clock
    span = PausedSpan(start=clock.paused_since, end=_after_last_change(clock, now))
    return clock.model_copy(update={"pauses": (*clock.pauses, span), "paused_since": None})


def stop(clock: SlaClock, now: datetime) -> SlaClock:
    """End the clock at `now` (closing a pause in progress); stopping twice changes nothing."""
    if clock.stopped_at is not None:
        return clock
    ended = resume(clock, now)
    return ended.model_copy(update={"stopped_at": _after_last_change(ended, now)})


def mark_fired(clock: SlaClock, thresholds: Iterable[float]) -> SlaClock:
    """Remember that these thresholds have fired, so they never fire again."""
    fired = tuple(sorted(set(clock.fired).union(thresholds)))
    return clock if fired == clock.fired else clock.model_copy(update={"fired": fired})


def policy_thresholds(
    warn_at: Iterable[float], escalation_at: Iterable[float] = ()
) -> tuple[float, ...]:
    """All thresholds of a policy in firing order, always including the breach (1.0)."""
    return tuple(sorted({*warn_at, *escalation_at, BREACH}))


def target_time(clock: SlaClock, calendar: BusinessCalendar) -> timedelta:
    """The clock's target as working time on this calendar (`5d` = 5 x its day length)."""
    return clock.target.working_time(calendar.day_length)


def counted_time(clock: SlaClock, calendar: BusinessCalendar, now: datetime) -> timedelta:
    """Working time the clock has counted up to `now`, pauses excluded."""
    now = _aware_utc(now)
    return sum((end - begin for begin, end in _counted_intervals(clock, calendar, now)), _ZERO)


def due_at(clock: SlaClock, calendar: BusinessCalendar) -> datetime | None:
    """When the target is reached; None while paused short of it (the time is not known yet).

    For a stopped clock this is the due time it had when it stopped, so a report can tell
    whether it was met (`stopped_at < due_at`).
    """
    return _instant_of(clock, calendar, target_time(clock, calendar))


def threshold_at(clock: SlaClock, calendar: BusinessCalendar, fraction: float) -> datetime | None:
    """When the counted working time reaches `fraction` of the target (None: not known yet)."""
    return _instant_of(clock, calendar, target_time(clock, calendar) * fraction)


def elapsed_fraction(clock: SlaClock, calendar: BusinessCalendar, now: datetime) -> float:
    """Counted working time over the target: 0.5 halfway, 1.0 and beyond once breached."""
    target = target_time(clock, calendar)
    if target == _ZERO:
        return 1.0 if _aware_utc(now) >= clock.started_at else 0.0
    return counted_time(clock, calendar, now) / target


def state(clock: SlaClock, calendar: BusinessCalendar, now: datetime) -> SlaState:
    """The clock's state at `now` (precedence in the module docstring)."""
    if clock.stopped_at is not None:
        return SlaState.STOPPED
    if clock.paused_since is not None:
        return SlaState.PAUSED
    if _aware_utc(now) < clock.started_at:
        return SlaState.ON_TRACK
    target = target_time(clock, calendar)
    counted = counted_time(clock, calendar, now)
    if counted >= target:
        return SlaState.BREACHED
    if clock.warn_at and counted >= target * clock.warn_at[0]:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


def next_fire_at(
    clock: SlaClock, calendar: BusinessCalendar, thresholds: Iterable[float]
) -> datetime | None:
    """When the lowest not-yet-fired threshold falls due; None if none is known to.

    The ledger indexes this as `next_due_at`; `due_thresholds(now)` is non-empty exactly
    when `now >= next_fire_at(...)`.
    """
    if clock.stopped_at is not None:
        return None
    pending = _pending(clock, thresholds)
    return threshold_at(clock, calendar, pending[0]) if pending else None


def due_thresholds(
    clock: SlaClock, calendar: BusinessCalendar, thresholds: Iterable[float], now: datetime
) -> list[float]:
    """Every threshold reached by `now` and not yet fired, lowest first; then `mark_fired`."""
    if clock.stopped_at is not None or _aware_utc(now) < clock.started_at:
        return []
    target = target_time(clock, calendar)
    counted = counted_time(clock, calendar, now)
    return [f for f in _pending(clock, thresholds) if counted >= target * f]


Schedule = tuple[tuple[float, datetime | None], ...]
"""Each threshold of a clock, lowest first, with the instant it falls due (None: not known
while the clock is paused short of it). It holds until the clock is paused, resumed or
stopped, or its calendar or thresholds change; firing thresholds does not move it."""


def threshold_schedule(
    clock: SlaClock, calendar: BusinessCalendar, thresholds: Iterable[float]
) -> Schedule:
    """When each threshold falls due, worked out once so a sweep needs no calendar arithmetic."""
    target = target_time(clock, calendar)
    return tuple((f, _instant_of(clock, calendar, target * f)) for f in sorted(set(thresholds)))


def scheduled_due(clock: SlaClock, schedule: Schedule, now: datetime) -> list[float]:
    """`due_thresholds` read off the clock's schedule: what is due by `now`, not yet fired."""
    if clock.stopped_at is not None:
        return []
    now = _aware_utc(now)
    fired = set(clock.fired)
    return [f for f, at in schedule if f not in fired and at is not None and at <= now]


def scheduled_next(clock: SlaClock, schedule: Schedule) -> datetime | None:
    """`next_fire_at` read off the clock's schedule: the lowest unfired threshold's instant."""
    if clock.stopped_at is not None:
        return None
    fired = set(clock.fired)
    return next((at for f, at in schedule if f not in fired), None)


class PauseNote(BaseModel):
    """A pause as the explanation shows it: when, and how much working time it covered."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime | None
    working_time: timedelta


class DayNote(BaseModel):
    """A date in the clock's range that is not an ordinary workday or weekend."""

    model_config = ConfigDict(frozen=True)

    day: date
    kind: DayKind
    name: str


class Explanation(BaseModel):
    """Why a clock is due when it is, as data; `render()` turns it into text."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    team: str | None
    calendar: str
    zone: str
    target: str
    target_time: timedelta
    day_length: timedelta
    started_at: datetime
    now: datetime
    state: SlaState
    counted: timedelta
    fraction: float
    intervals: tuple[Interval, ...]
    days: tuple[DayNote, ...]
    pauses: tuple[PauseNote, ...]
    due_at: datetime | None
    stopped_at: datetime | None

    def render(self) -> str:
        """Plain text for `govflow sla explain KEY`, times on the team's wall clock."""
        zone = ZoneInfo(self.zone)
        team = f" ({self.team})" if self.team else ""
        where = f"{self.calendar}, {self.zone}" if self.calendar else self.zone
        lines = [
            f"SLA {self.stage}{team}: target {self.target} = "
            f"{format_duration(self.target_time)} of working time "
            f"(a day is {format_duration(self.day_length)}; {where})",
            f"  started  {_when(self.started_at, zone)}",
            f"  now      {_when(self.now, zone)}: {self.state}, "
            f"{format_duration(self.counted)} counted ({self.fraction:.0%})",
        ]
        if self.due_at is None:
            lines.append("  due      not known while paused short of the target")
        else:
            lines.append(f"  due      {_when(self.due_at, zone)}")
        if self.stopped_at is not None:
            lines.append(f"  stopped  {_when(self.stopped_at, zone)}{self._verdict()}")
        lines.append("Working time counted towards the due time:")
        total = _ZERO
        for begin, end in self.intervals:
            total += end - begin
            lines.append(
                f"  {_span(begin, end, zone)}  {format_duration(end - begin):>8}"
                f"  (total {format_duration(total)})"
            )
        if self.days:
            lines.append("Days not worked as usual:")
            lines += [f"  {d.day:%a %d %b %Y}  {d.name} ({d.kind})" for d in self.days]
        if self.pauses:
            lines.append("Paused (not counted):")
            for p in self.pauses:
                until = _when(p.end, zone) if p.end is not None else "still paused"
                lines.append(
                    f"  {_when(p.start, zone)} -> {until}: "
                    f"{format_duration(p.working_time)} of working time"
                )
        return "\n".join(lines)

    def _verdict(self) -> str:
        if self.due_at is None or self.stopped_at is None:
            return ""
        if self.stopped_at < self.due_at:
            return " (met the target)"
        return " (after the due time)"


def explain(clock: SlaClock, calendar: BusinessCalendar, now: datetime) -> Explanation:
    """Everything that went into the clock's due time, for people who ask why."""
    now = _aware_utc(now)
    due = due_at(clock, calendar)
    horizon = due if due is not None else clock.paused_since or now
    towards_due = tuple(_counted_intervals(clock, calendar, horizon, ignore_stop=True))
    notes = tuple(
        DayNote(day=d.day, kind=d.kind, name=d.name)
        for d in calendar.days_between(clock.started_at, max(horizon, clock.started_at))
        # Weekends and ordinary workdays go without saying; everything else is worth a line.
        if d.kind is not DayKind.DAY_OFF and (d.kind is not DayKind.WORKDAY or d.window is None)
    )
    pauses = [
        PauseNote(
            start=p.start, end=p.end, working_time=calendar.business_time_between(p.start, p.end)
        )
        for p in clock.pauses
    ]
    if clock.paused_since is not None:
        covered = calendar.business_time_between(clock.paused_since, now)
        pauses.append(PauseNote(start=clock.paused_since, end=None, working_time=covered))
    return Explanation(
        stage=clock.stage,
        team=clock.team,
        calendar=calendar.name,
        zone=calendar.zone.key,
        target=str(clock.target),
        target_time=target_time(clock, calendar),
        day_length=calendar.day_length,
        started_at=clock.started_at,
        now=now,
        state=state(clock, calendar, now),
        counted=counted_time(clock, calendar, now),
        fraction=elapsed_fraction(clock, calendar, now),
        intervals=towards_due,
        days=notes,
        pauses=tuple(pauses),
        due_at=due,
        stopped_at=clock.stopped_at,
    )


def _pending(clock: SlaClock, thresholds: Iterable[float]) -> list[float]:
    fired = set(clock.fired)
    return sorted(f for f in set(thresholds) if f not in fired)


def _segments(clock: SlaClock) -> Iterator[tuple[datetime, datetime | None]]:
    """The stretches the clock runs in; the last one is open-ended unless paused now."""
    begin = clock.started_at
    for span in clock.pauses:
        yield begin, span.start
        begin = span.end
    yield begin, clock.paused_since


def _counted_intervals(
    clock: SlaClock, calendar: BusinessCalendar, until: datetime, *, ignore_stop: bool = False
) -> Iterator[Interval]:
    limit = until if ignore_stop or clock.stopped_at is None else min(until, clock.stopped_at)
    for begin, end in _segments(clock):
        stretch_end = limit if end is None else min(end, limit)
        yield from calendar.working_intervals(begin, stretch_end)


def _instant_of(clock: SlaClock, calendar: BusinessCalendar, amount: timedelta) -> datetime | None:
    """The earliest instant at which the clock has counted `amount`; None if paused short."""
    remaining = amount
    for begin, end in _segments(clock):
        if end is None:
            return calendar.add_business_time(begin, remaining)
        available = calendar.business_time_between(begin, end)
        if available >= remaining:
            return calendar.add_business_time(begin, remaining)
        remaining -= available
    return None


def _after_last_change(clock: SlaClock, now: datetime) -> datetime:
    """`now` in UTC, but never before the clock's last recorded instant."""
    marks = [clock.started_at, *(p.end for p in clock.pauses)]
    if clock.paused_since is not None:
        marks.append(clock.paused_since)
    return max(_aware_utc(now), *marks)


def _require_not_stopped(clock: SlaClock, action: str) -> None:
    if clock.stopped_at is not None:
        raise InvalidTransition(f"cannot {action} the {clock.stage} clock: it has stopped")


def _when(t: datetime, zone: ZoneInfo) -> str:
    local = t.astimezone(zone)
    clock_time = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    return f"{local:%a %d %b %Y} {local.strftime(clock_time)} {local:%Z} ({t:%H:%M} UTC)"


def _span(begin: datetime, end: datetime, zone: ZoneInfo) -> str:
    a, b = begin.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return f"{a:%a %d %b %Y %H:%M}-{b:%H:%M} {b:%Z}"
    return f"{a:%a %d %b %Y %H:%M %Z} - {b:%a %d %b %Y %H:%M %Z}"
