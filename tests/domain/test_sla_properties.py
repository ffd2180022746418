"""Properties of SLA clocks under random pauses and a watchdog whose `now` jumps around."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import BusinessCalendar
from domain.sla import (
    SlaClock,
    SlaState,
    counted_time,
    due_at,
    due_thresholds,
    mark_fired,
    next_fire_at,
    pause,
    resume,
    scheduled_due,
    scheduled_next,
    start_clock,
    state,
    stop,
    target_time,
    threshold_schedule,
)
from domain.stages import Stage

TICK = timedelta(microseconds=1)
THRESHOLDS = (0.25, 0.5, 0.75, 1.0, 1.25, 2.0)

CALENDARS = [
    BusinessCalendar(
        timezone="Europe/Dublin",
        country="IE",
        closed_dates=[date(2026, 1, 2)],
        half_days={date(2025, 12, 24): (time(9), time(13))},
    ),
    BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY"),
    BusinessCalendar(
        timezone="Europe/Dublin",
        workdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
        hours=(time(0), time(6)),
    ),
]

calendars = st.sampled_from(CALENDARS)
starts = st.datetimes(
    min_value=datetime(2025, 9, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)
targets = st.sampled_from(["30m", "4h", "1d", "1.5d", "5d"])
# Gaps between clock events, from a minute to a fortnight.
gaps = st.integers(1, 14 * 24 * 60).map(lambda m: timedelta(minutes=m))
FAST = settings(max_examples=120, deadline=None)


@st.composite
def clocks(draw: st.DrawFn) -> tuple[SlaClock, datetime]:
    """A clock with up to three pauses (the last maybe still open), and the last event time."""
    now = draw(starts)
    clock = start_clock(stage=Stage.SIGN_OFF, target=draw(targets), now=now, warn_at=(0.5,))
    for _ in range(draw(st.integers(0, 3))):
        now += draw(gaps)
        clock = pause(clock, now)
        if draw(st.booleans()):
            break
        now += draw(gaps)
        clock = resume(clock, now)
    return clock, now


def expected_counted(clock: SlaClock, cal: BusinessCalendar, now: datetime) -> timedelta:
    """Working time from the start to now, minus the working time inside each pause."""
    total = cal.business_time_between(clock.started_at, now)
    for span in clock.pauses:
        total -= cal.business_time_between(span.start, min(span.end, now))
    if clock.paused_since is not None:
        total -= cal.business_time_between(clock.paused_since, now)
    return total


@FAST
@given(calendars, clocks(), gaps)
def test_paused_spans_are_excluded(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], later: timedelta
) -> None:
    """Counted time is working time minus what the pauses covered."""
    clock, last = made
    for now in (last, last + later, clock.started_at + later):
        assert counted_time(clock, cal, now) == expected_counted(clock, cal, now)


@FAST
@given(calendars, clocks(), gaps)
def test_due_at_is_when_the_target_is_counted(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], later: timedelta
) -> None:
    """At the due time exactly the target is counted, a microsecond earlier less."""
    clock, last = made
    target = target_time(clock, cal)
    due = due_at(clock, cal)
    if due is None:
        assert clock.paused_since is not None
        assert counted_time(clock, cal, last + later) < target
        return
    assert counted_time(clock, cal, due) == target
    assert counted_time(clock, cal, due - TICK) < target
    assert (state(clock, cal, due - TICK) is SlaState.BREACHED) is False


@FAST
@given(calendars, clocks(), gaps)
def test_a_paused_clock_stands_still(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], later: timedelta
) -> None:
    """Once paused, nothing more is counted however long the pause lasts."""
    clock, last = made
    paused = pause(clock, last)
    assert counted_time(paused, cal, last + later) == counted_time(clock, cal, last)
    assert state(paused, cal, last + later) is SlaState.PAUSED


@FAST
@given(calendars, clocks(), gaps)
def test_a_pause_never_brings_the_due_time_forward(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], length: timedelta
) -> None:
    """Pausing and resuming can only push the due time out."""
    clock, last = made
    clock = resume(clock, last)
    before = due_at(clock, cal)
    after = due_at(resume(pause(clock, last), last + length), cal)
    assert before is not None and after is not None
    assert after >= before


@FAST
@given(calendars, clocks(), st.lists(gaps, min_size=1, max_size=6))
def test_next_fire_at_agrees_with_due_thresholds(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], offsets: list[timedelta]
) -> None:
    """Something is due at `now` exactly when `now` has reached `next_fire_at`."""
    clock, _ = made
    for offset in offsets:
        now = clock.started_at + offset
        fire_at = next_fire_at(clock, cal, THRESHOLDS)
        due = due_thresholds(clock, cal, THRESHOLDS, now)
        assert bool(due) == (fire_at is not None and now >= fire_at)
        if fire_at is not None:
            assert due_thresholds(clock, cal, THRESHOLDS, fire_at)
            assert not due_thresholds(clock, cal, THRESHOLDS, fire_at - TICK)
        clock = mark_fired(clock, due)


@FAST
@given(
    calendars,
    clocks(),
    st.lists(
        st.integers(-5 * 24 * 60, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)), max_size=12
    ),
)
def test_each_threshold_fires_once_in_order(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], jumps: list[timedelta]
) -> None:
    """A watchdog whose clock jumps forward and back fires each threshold once, in order."""
    clock, last = made
    fired: list[float] = []
    now, latest = last, clock.started_at
    for jump in jumps:
        now += jump
        latest = max(latest, now)
        due = due_thresholds(clock, cal, THRESHOLDS, now)
        assert due == sorted(due)
        fired += due
        clock = mark_fired(clock, due)
    assert fired == sorted(set(fired))
    counted = counted_time(clock, cal, latest) if jumps else timedelta(0)
    reached = [f for f in THRESHOLDS if counted >= target_time(clock, cal) * f]
    assert fired == reached


@FAST
@given(calendars, clocks(), gaps)
def test_a_stopped_clock_is_frozen(
    cal: BusinessCalendar, made: tuple[SlaClock, datetime], later: timedelta
) -> None:
    """After stop, counted time stays put and nothing fires."""
    clock, last = made
    stopped = stop(clock, last)
    assert counted_time(stopped, cal, last + later) == counted_time(clock, cal, last)
    assert next_fire_at(stopped, cal, THRESHOLDS) is None
    assert due_thresholds(stopped, cal, THRESHOLDS, last + later) == []


@FAST
@given(
    calendars,
    clocks(),
    st.booleans(),
    st.lists(
        st.integers(-5 * 24 * 60, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)), max_size=12
    ),
)
def test_a_schedule_fires_what_the_arithmetic_fires(
    cal: BusinessCalendar,
    made: tuple[SlaClock, datetime],
    stopped: bool,
    jumps: list[timedelta],
) -> None:
    """Read off a schedule made at the last change, firing agrees with counting, jumps and all."""
    clock, last = made
    clock = stop(clock, last) if stopped else clock
    schedule = threshold_schedule(clock, cal, THRESHOLDS)
    assert [f for f, _ in schedule] == list(THRESHOLDS)
    assert scheduled_next(clock, schedule) == next_fire_at(clock, cal, THRESHOLDS)
    now = last
    for jump in jumps:
        now += jump
        for at in (now, now - TICK):
            assert scheduled_due(clock, schedule, at) == due_thresholds(clock, cal, THRESHOLDS, at)
        clock = mark_fired(clock, due_thresholds(clock, cal, THRESHOLDS, now))
        assert scheduled_next(clock, schedule) == next_fire_at(clock, cal, THRESHOLDS)
        fire_at = scheduled_next(clock, schedule)
        if fire_at is not None:  # exactly at the instant, not a microsecond before
            assert scheduled_due(clock, schedule, fire_at)
            assert not scheduled_due(clock, schedule, fire_at - TICK)
