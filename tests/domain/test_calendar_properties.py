"""Properties of working-time arithmetic that must hold for every calendar and instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import BusinessCalendar, DayKind

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TICK = timedelta(microseconds=1)

CALENDARS = [
    BusinessCalendar(
        timezone="Europe/Dublin",
        country="IE",
        closed_dates=[date(2026, 1, 2), date(2026, 7, 15)],
        half_days={
            date(2025, 12, 24): (time(9), time(13)),
            date(2026, 12, 24): (time(9), time(13)),
        },
        name="dublin office",
    ),
    BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY", name="kl office"),
    # Every window spans a DST change twice a year.
    BusinessCalendar(
        timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(0), time(6)), name="night shift"
    ),
    # Opens inside the skipped hour and closes inside the repeated one.
    BusinessCalendar(
        timezone="Europe/Dublin",
        workdays=EVERY_DAY,
        hours=(time(1, 30), time(1, 45)),
        name="odd hours",
    ),
    # Half-hour DST shifts, six-day week, state holidays.
    BusinessCalendar(
        timezone="Australia/Lord_Howe",
        country="AU",
        subdivision="NSW",
        workdays=EVERY_DAY[:6],
        hours=(time(1, 45), time(12, 30)),
        name="lord howe",
    ),
]

calendars = st.sampled_from(CALENDARS)
instants = st.datetimes(
    min_value=datetime(2025, 9, 1), max_value=datetime(2027, 4, 30), timezones=st.just(UTC)
)
# Round amounts hit boundaries exactly; microsecond ones probe everything in between.
amounts = st.one_of(
    st.integers(0, 60 * 60).map(lambda m: timedelta(minutes=m)),
    st.integers(0, 200 * 3_600_000_000).map(lambda us: timedelta(microseconds=us)),
)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(calendars, instants, instants, amounts)
def test_monotonic_in_start(cal: BusinessCalendar, a: datetime, b: datetime, d: timedelta) -> None:
    """A later start never gives an earlier result."""
    early, late = sorted((a, b))
    assert cal.add_business_time(early, d) <= cal.add_business_time(late, d)


@FAST
@given(calendars, instants, amounts, amounts)
def test_monotonic_in_duration(
    cal: BusinessCalendar, t: datetime, a: timedelta, b: timedelta
) -> None:
    """More working time never gives an earlier result."""
    less, more = sorted((a, b))
    assert cal.add_business_time(t, less) <= cal.add_business_time(t, more)


@FAST
@given(calendars, instants, amounts, amounts)
def test_additive_across_splits(
    cal: BusinessCalendar, t: datetime, a: timedelta, b: timedelta
) -> None:
    """Adding a then b is adding a + b."""
    assert cal.add_business_time(cal.add_business_time(t, a), b) == cal.add_business_time(t, a + b)


@FAST
@given(calendars, instants, amounts)
def test_result_is_working_time_or_a_closing(
    cal: BusinessCalendar, t: datetime, d: timedelta
) -> None:
    """A positive amount ends inside a window or exactly at its closing, never on a closed day.

    Precisely: the microsecond before the result is working time on an open day, so the
    result is in (opens, closes] of some window.
    """
    result = cal.add_business_time(t, d)
    assert result >= t
    if d > timedelta(0):
        last_worked = result - TICK
        assert cal.is_open(last_worked)
        day = cal.day(cal.local(last_worked).date())
        assert day.kind in (DayKind.WORKDAY, DayKind.HALF_DAY)
        assert day.window is not None
        assert day.window[0] < result <= day.window[1]


@FAST
@given(calendars, instants, amounts)
def test_between_inverts_add(cal: BusinessCalendar, t: datetime, d: timedelta) -> None:
    """The working time between a start and start + d is d."""
    assert cal.business_time_between(t, cal.add_business_time(t, d)) == d


@FAST
@given(calendars, instants, instants)
def test_add_inverts_between(cal: BusinessCalendar, a: datetime, b: datetime) -> None:
    """Adding the working time of [a, b) to a reaches b, or the earliest instant like b."""
    start, end = sorted((a, b))
    worked = cal.business_time_between(start, end)
    reached = cal.add_business_time(start, worked)
    assert reached <= end
    assert cal.business_time_between(start, reached) == worked
    if end - TICK >= start and cal.is_open(end - TICK):
        assert reached == end


@FAST
@given(calendars, instants, instants, instants)
def test_between_is_additive(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    """Working time of [a, c) is that of [a, b) plus [b, c)."""
    x, y, z = sorted((a, b, c))
    assert cal.business_time_between(x, y) + cal.business_time_between(
        y, z
    ) == cal.business_time_between(x, z)


@FAST
@given(calendars, instants)
def test_next_opening(cal: BusinessCalendar, t: datetime) -> None:
    """The next opening is open, not before t, and no working time lies before it."""
    opening = cal.next_opening(t)
    assert opening >= t
    assert cal.is_open(opening)
    assert cal.business_time_between(t, opening) == timedelta(0)
    assert (opening == t) == cal.is_open(t)


@FAST
@given(calendars, instants, instants)
def test_working_intervals_are_ordered_open_and_disjoint(
    cal: BusinessCalendar, a: datetime, b: datetime
) -> None:
    """Explanations list working time once, in order, and only working time."""
    start, end = sorted((a, b))
    pieces = list(cal.working_intervals(start, end))
    for begin, finish in pieces:
        assert start <= begin < finish <= end
        assert cal.is_open(begin)
        assert cal.is_open(finish - TICK)
    for (_, first_end), (second_begin, _) in pairwise(pieces):
        assert first_end <= second_begin


@FAST
@given(calendars, instants, st.integers(0, 30))
def test_business_days_are_whole_days_of_working_time(
    cal: BusinessCalendar, t: datetime, n: int
) -> None:
    """n days is n regular day lengths of working time."""
    due = cal.add_business_days(t, n)
    assert cal.business_time_between(t, due) == n * cal.day_length
