"""Business calendars: when a team works, and working-time arithmetic over UTC instants.

Model. A calendar gives every local date at most one *window* of working time, from an
opening to a closing wall-clock time in the team's IANA zone. Which window a date has is
decided by the first rule that applies:

1. the date is in `closed_dates`            -> closed
2. the date is in `half_days`               -> open with those hours, even on a weekend or
                                               a public holiday (the admin named this date)
3. it is a public holiday of the country    -> closed (names from the `holidays` package,
   (and subdivision)                           loaded lazily per year and cached)
4. its weekday is a workday                 -> open with the regular hours; otherwise closed

Each window is converted to a half-open interval of UTC instants `[opens, closes)`; all
arithmetic then happens on those UTC intervals, so working time is real elapsed time between
the wall-clock bounds. A 09:00-18:00 day in Europe/Dublin is 9 hours on the days the clocks
change too (they change at 01:00 UTC, outside the window). A window that itself spans a
change counts the real time between its wall-clock bounds (00:00-06:00 on the spring-forward
day is 5 hours). Wall-clock times that do not exist (the skipped hour) are moved forward to
the instant the clocks change; ambiguous ones (the repeated hour) mean their first
occurrence. Both rules keep `opens <= closes` and windows in order, so nothing is counted
twice; a window that falls entirely inside the skipped hour is empty and ignored.

Boundaries. `is_open(t)` means `opens <= t < closes`. Adding working time returns the
*earliest* instant at which that much working time has elapsed, so a positive amount that
runs out exactly at a closing time lands on the closing time (Friday 18:00), not on the next
opening (Monday 09:00); the instant just before the result is always working time. Adding
zero returns the start unchanged.

Days. `add_business_days(t, n)` adds n full regular working days of working time (n x the
regular day length). From an instant inside the hours it lands at the same local time n
working days later, skipping weekends, holidays and closed dates; from outside the hours
counting starts at the next opening, so "5d" from Saturday is due Friday at closing. A half
day counts only for the hours it has, so it pushes the result later than a full day would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from domain.errors import ConfigError, ConfigProblem

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[datetime, datetime]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Longest run of closed days a search walks before deciding the calendar never opens again;
# three years is far beyond any real closure, and bounds the loop if the config is absurd.
_MAX_CLOSED_RUN = 3 * 366


class HoursLike(Protocol):
    """Anything with a local opening and closing time (domain.rules.Hours fits)."""

    @property
    def start(self) -> time: ...

    @property
    def end(self) -> time: ...


class CalendarRules(Protocol):
    """The shape of domain.rules.Calendar that the arithmetic reads (tests pass lighter ones)."""

    @property
    def timezone(self) -> str: ...

    @property
    def country(self) -> str | None: ...

    @property
    def subdivision(self) -> str | None: ...

    @property
    def workdays(self) -> Sequence[str]: ...

    @property
    def hours(self) -> HoursLike: ...

    @property
    def closed_dates(self) -> Sequence[date]: ...

    @property
    def half_days(self) -> Mapping[date, HoursLike]: ...


class DayKind(StrEnum):
    """Why a local date has the hours it has."""

    WORKDAY = "workday"
    HALF_DAY = "half_day"
    HOLIDAY = "holiday"
    CLOSED = "closed"
    DAY_OFF = "day_off"


@dataclass(frozen=True)
class Day:
    """One local date of a calendar: its kind, a name for people, its UTC window if open."""

    day: date
    kind: DayKind
    name: str
    window: Interval | None


class BusinessCalendar:
    """A team's working calendar; every instant in and out is timezone-aware, returned in UTC."""

    def __init__(
        self,
        *,
        timezone: str,
        workdays: Iterable[str] = WEEKDAYS[:5],
        hours: tuple[time, time] = (time(9), time(18)),
        country: str | None = None,
        subdivision: str | None = None,
        closed_dates: Iterable[date] = (),
        half_days: Mapping[date, tuple[time, time]] | None = None,
        name: str = "",
    ) -> None:
        self.name = name
        self._zone = _zone(timezone, name)
        self._workdays = _weekday_numbers(workdays, name)
        self._hours = _checked_hours(hours, name, "hours")
        self._closed = frozenset(closed_dates)
        self._half_days = {
            day: _checked_hours(pair, name, f"half_days.{day}")
            for day, pair in (half_days or {}).items()
        }
        self._country, self._subdivision = _checked_region(country, subdivision, name)
        self._holiday_years: dict[int, dict[date, str]] = {}
        self._days: dict[date, Day] = {}

    @classmethod
    def from_rules(cls, rules: CalendarRules, *, name: str = "") -> BusinessCalendar:
        """Build from a `domain.rules.Calendar` (or anything of that shape)."""
        return cls(
            timezone=rules.timezone,
            workdays=rules.workdays,
            hours=(rules.hours.start, rules.hours.end),
            country=rules.country,
            subdivision=rules.subdivision,
            closed_dates=rules.closed_dates,
            half_days={day: (h.start, h.end) for day, h in rules.half_days.items()},
            name=name,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The team's IANA time zone."""
        return self._zone

    @property
    def day_length(self) -> timedelta:
        """The wall-clock length of a regular working day: what `1d` of an SLA means."""
        return _wall_length(self._hours)

    def local(self, t: datetime) -> datetime:
        """The instant `t` on the team's wall clock."""
        return _utc(t, "t").astimezone(self._zone)

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on this local date, or None."""
        if self._country is None:
            return None
        year = self._holiday_years.get(day.year)
        if year is None:
            found = holidays.country_holidays(
                self._country, subdiv=self._subdivision, years=day.year
            )
            year = self._holiday_years[day.year] = dict(found)
        return year.get(day)

    def day(self, day: date) -> Day:
        """What the calendar says about one local date (cached)."""
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._describe(day)
        return known

    def is_open(self, t: datetime) -> bool:
        """Whether `t` is working time: `opens <= t < closes` of some window."""
        t = _utc(t, "t")
        return any(
            opens <= t < closes for opens, closes in self._windows_around(self._local_date(t))
        )

    def next_opening(self, t: datetime) -> datetime:
        """The earliest working instant at or after `t` (`t` itself when open)."""
        t = _utc(t, "t")
        for opens, closes in self._open_windows_from(self._local_date(t) - _ONE_DAY):
            if closes > t:
                return max(opens, t)
        raise AssertionError("unreachable: _open_windows_from never ends")  # pragma: no cover

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of working time has elapsed after `start`."""
        start = _utc(start, "start")
        if duration < _ZERO:
            raise ValueError(f"cannot add a negative amount of working time: {duration}")
        if duration == _ZERO:
            return start
        remaining = duration
        # Day-level stepping: each window is consumed whole or is where the time runs out.
        for opens, closes in self._open_windows_from(self._local_date(start) - _ONE_DAY):
            if closes <= start:
                continue
            begin = max(opens, start)
            available = closes - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _open_windows_from never ends")  # pragma: no cover

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """Add n full regular working days of working time (see the module docstring)."""
        if n < 0:
            raise ValueError(f"cannot add a negative number of working days: {n}")
        return self.add_business_time(start, n * self.day_length)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in `[a, b)`; zero when `b <= a`."""
        return sum((end - begin for begin, end in self.working_intervals(a, b)), _ZERO)

    def working_intervals(self, a: datetime, b: datetime) -> Iterator[Interval]:
        """The non-empty UTC intervals of working time inside `[a, b)`, in order."""
        a, b = _utc(a, "a"), _utc(b, "b")
        if b <= a:
            return
        day, last = self._local_date(a) - _ONE_DAY, self._local_date(b) + _ONE_DAY
        while day <= last:
            window = self.day(day).window
            if window is not None:
                begin, end = max(window[0], a), min(window[1], b)
                if begin < end:
                    yield begin, end
            day += _ONE_DAY

    def days_between(self, a: datetime, b: datetime) -> Iterator[Day]:
        """Every local date touched by `[a, b]`, in order, for explanations."""
        a, b = _utc(a, "a"), _utc(b, "b")
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            yield self.day(day)
            day += _ONE_DAY

    def _describe(self, day: date) -> Day:
        if day in self._closed:
            return Day(day, DayKind.CLOSED, "closed", None)
        half = self._half_days.get(day)
        if half is not None:
            name = f"half day {half[0]:%H:%M}-{half[1]:%H:%M}"
            return self._open_day(day, DayKind.HALF_DAY, name, half)
        holiday = self.holiday_name(day)
        if holiday is not None:
            return Day(day, DayKind.HOLIDAY, holiday, None)
        if day.weekday() not in self._workdays:
            return Day(day, DayKind.DAY_OFF, f"no work on {WEEKDAYS[day.weekday()]}", None)
        return self._open_day(day, DayKind.WORKDAY, "", self._hours)

    def _open_day(self, day: date, kind: DayKind, name: str, hours: tuple[time, time]) -> Day:
        opens, closes = _to_utc(day, hours[0], self._zone), _to_utc(day, hours[1], self._zone)
        if opens < closes:
            return Day(day, kind, name, (opens, closes))
        # Only a window wholly inside the skipped DST hour collapses to nothing.
        return Day(day, kind, f"{name or 'hours'} fall in the hour skipped by DST", None)

    def _windows_around(self, day: date) -> Iterator[Interval]:
        for offset in (-1, 0, 1):
            window = self.day(day + offset * _ONE_DAY).window
            if window is not None:
                yield window

    def _open_windows_from(self, day: date) -> Iterator[Interval]:
        closed_run = 0
        while True:
            window = self.day(day).window
            if window is None:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise _problem(
                        self.name,
                        "",
                        f"no working time in {_MAX_CLOSED_RUN} consecutive days up to {day}",
                        "check closed_dates and workdays",
                    )
            else:
                closed_run = 0
                yield window
            day += _ONE_DAY

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self._zone).date()


def _utc(t: datetime, what: str) -> datetime:
    """`t` in UTC; naive datetimes are a programming error, not a business one."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(UTC)


def _to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; see the module docstring for DST rules."""
    wall = datetime.combine(day, at.replace(tzinfo=None))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 is the first occurrence of an ambiguous time
    # A skipped wall time: fold=0 reads it with the old offset (lands after the change),
    # fold=1 with the new one (lands before it); the change itself lies between them.
    return _change_between(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first, zone)


def _change_between(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in `(before, after]` at which `zone`'s UTC offset changes."""
    old = before.astimezone(zone).utcoffset()
    # Offsets change on whole seconds in tzdata, so bisecting whole seconds is exact.
    low = (before - _EPOCH) // timedelta(seconds=1)
    high = -((_EPOCH - after) // timedelta(seconds=1))
    while high - low > 1:
        middle = (low + high) // 2
        if (_EPOCH + timedelta(seconds=middle)).astimezone(zone).utcoffset() == old:
            low = middle
        else:
            high = middle
    return _EPOCH + timedelta(seconds=high)


def _wall_length(hours: tuple[time, time]) -> timedelta:
    anchor = date(2000, 1, 1)
    return datetime.combine(anchor, hours[1]) - datetime.combine(anchor, hours[0])


def _zone(timezone: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _problem(name, "timezone", f"unknown IANA time zone {timezone!r}") from exc


def _weekday_numbers(workdays: Iterable[str], name: str) -> frozenset[int]:
    days = [str(d).lower() for d in workdays]
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown:
        raise _problem(name, "workdays", f"unknown weekdays {unknown}", "use mon..sun")
    if not days:
        # Without a weekday nothing ever opens, and every search would walk forever.
        raise _problem(name, "workdays", "a calendar needs at least one workday")
    return frozenset(WEEKDAYS.index(d) for d in days)


def _checked_hours(hours: tuple[time, time], name: str, where: str) -> tuple[time, time]:
    start, end = (h.replace(tzinfo=None) for h in hours)
    if end <= start:
        raise _problem(name, where, f"closing {end} must be after opening {start}")
    return start, end


def _checked_region(
    country: str | None, subdivision: str | None, name: str
) -> tuple[str | None, str | None]:
    if country is None:
        if subdivision is not None:
            raise _problem(name, "subdivision", "a subdivision needs a country")
        return None, None
    country = country.upper()
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise _problem(name, "country", str(exc), "any code the holidays package knows") from exc
    return country, subdivision


def _problem(name: str, field: str, message: str, hint: str = "") -> ConfigError:
    where = ".".join(part for part in ("calendars", name, field) if part)
    return ConfigError([ConfigProblem("rules", None, where, message, hint)])
