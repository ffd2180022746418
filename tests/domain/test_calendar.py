"""Worked examples of business-calendar arithmetic: weekends, holidays, DST, year end."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import BusinessCalendar, DayKind
from domain.errors import ConfigError
from domain.rules import Calendar, Hours

DUBLIN = ZoneInfo("Europe/Dublin")
KUALA_LUMPUR = ZoneInfo("Asia/Kuala_Lumpur")
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def dublin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A Dublin wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=DUBLIN)


def kl(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A Kuala Lumpur wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=KUALA_LUMPUR)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC time as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def ireland() -> BusinessCalendar:
    """Dublin, Monday to Friday 09:00-18:00, Irish public holidays."""
    return BusinessCalendar(timezone="Europe/Dublin", country="IE", name="dublin")


@pytest.fixture
def malaysia() -> BusinessCalendar:
    """Kuala Lumpur, Monday to Friday 09:00-18:00, Malaysian national holidays."""
    return BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY", name="kl")


class TestAddBusinessTime:
    def test_inside_one_day(self, ireland: BusinessCalendar) -> None:
        """Time inside the hours just adds up."""
        assert ireland.add_business_time(dublin(2026, 3, 4, 10), timedelta(hours=4)) == utc(
            2026, 3, 4, 14
        )

    def test_across_a_weekend(self, ireland: BusinessCalendar) -> None:
        """Friday 16:00 + 4h is Monday 11:00: Saturday and Sunday do not count."""
        due = ireland.add_business_time(dublin(2026, 3, 6, 16), timedelta(hours=4))
        assert due == dublin(2026, 3, 9, 11)

    def test_across_a_malaysian_holiday(self, malaysia: BusinessCalendar) -> None:
        """Malaysia Day (Wed 16 Sep 2026) is skipped: Tue 15:00 + 9h is Thu 15:00."""
        due = malaysia.add_business_time(kl(2026, 9, 15, 15), timedelta(hours=9))
        assert due == kl(2026, 9, 17, 15)
        assert malaysia.day(date(2026, 9, 16)).kind is DayKind.HOLIDAY
        assert malaysia.holiday_name(date(2026, 9, 16)) == "Malaysia Day"

    def test_across_christmas_in_malaysia(self, malaysia: BusinessCalendar) -> None:
        """Christmas (Fri 25 Dec 2026) and the weekend are skipped in Kuala Lumpur."""
        due = malaysia.add_business_time(kl(2026, 12, 24, 17), timedelta(hours=2))
        assert due == kl(2026, 12, 28, 10)

    def test_across_spring_forward_in_dublin(self, ireland: BusinessCalendar) -> None:
        """Clocks go forward on Sun 29 Mar 2026: Fri 16:00 GMT + 4h is Mon 11:00 IST."""
        due = ireland.add_business_time(dublin(2026, 3, 27, 16), timedelta(hours=4))
        assert due == dublin(2026, 3, 30, 11)
        assert due == utc(2026, 3, 30, 10)

    def test_across_fall_back_and_a_bank_holiday(self, ireland: BusinessCalendar) -> None:
        """Clocks go back on Sun 25 Oct 2026 and Mon 26 Oct is a bank holiday."""
        due = ireland.add_business_time(dublin(2026, 10, 23, 16), timedelta(hours=4))
        assert due == dublin(2026, 10, 27, 11)
        assert due == utc(2026, 10, 27, 11)

    def test_across_the_year_end(self, ireland: BusinessCalendar) -> None:
        """31 Dec 16:00 + 1 day lands on 2 Jan 16:00: New Year's Day is skipped."""
        due = ireland.add_business_days(dublin(2025, 12, 31, 16), 1)
        assert due == dublin(2026, 1, 2, 16)

    def test_half_day_counts_its_hours_only(self) -> None:
        """A 09:00-13:00 Christmas Eve gives 3h from 10:00; the rest runs on 29 Dec."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin",
            country="IE",
            half_days={date(2025, 12, 24): (time(9), time(13))},
        )
        due = cal.add_business_days(dublin(2025, 12, 24, 10), 1)
        assert due == dublin(2025, 12, 29, 15)

    def test_closed_date_is_skipped(self) -> None:
        """A closed 2 Jan pushes a year-end day to Monday 5 Jan."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", country="IE", closed_dates=[date(2026, 1, 2)]
        )
        assert cal.add_business_days(dublin(2025, 12, 31, 16), 1) == dublin(2026, 1, 5, 16)

    def test_start_outside_hours_counts_from_next_opening(self, ireland: BusinessCalendar) -> None:
        """Work arriving at 07:00 is counted from 09:00."""
        assert ireland.add_business_time(dublin(2026, 3, 4, 7), timedelta(minutes=30)) == dublin(
            2026, 3, 4, 9, 30
        )

    def test_running_out_at_closing_returns_the_closing_time(
        self, ireland: BusinessCalendar
    ) -> None:
        """Exactly 2h from Friday 16:00 is Friday 18:00, not Monday 09:00."""
        due = ireland.add_business_time(dublin(2026, 3, 6, 16), timedelta(hours=2))
        assert due == dublin(2026, 3, 6, 18)
        assert not ireland.is_open(due)

    def test_zero_returns_the_start_even_when_closed(self, ireland: BusinessCalendar) -> None:
        """Adding nothing moves nothing, so addition stays associative."""
        saturday = dublin(2026, 3, 7, 12)
        assert ireland.add_business_time(saturday, timedelta(0)) == saturday

    def test_result_is_utc(self, ireland: BusinessCalendar) -> None:
        """Whatever zone comes in, UTC goes out."""
        due = ireland.add_business_time(kl(2026, 3, 4, 18), timedelta(hours=1))
        assert due.tzinfo is UTC

    def test_a_year_of_working_time_steps_by_day(self, ireland: BusinessCalendar) -> None:
        """Long amounts are cheap and exact: 250 working days from a Monday morning."""
        due = ireland.add_business_days(dublin(2026, 1, 5, 9), 250)
        assert ireland.business_time_between(dublin(2026, 1, 5, 9), due) == 250 * timedelta(hours=9)


class TestAddBusinessDays:
    def test_five_days_is_same_time_next_week(self, ireland: BusinessCalendar) -> None:
        """5d from Monday 14:00 is the next Monday 14:00."""
        assert ireland.add_business_days(dublin(2026, 3, 9, 14), 5) == dublin(2026, 3, 16, 14)

    def test_five_days_from_saturday_ends_friday_at_closing(
        self, ireland: BusinessCalendar
    ) -> None:
        """5d from the weekend is the whole next week: due Friday 18:00."""
        assert ireland.add_business_days(dublin(2026, 3, 7, 11), 5) == dublin(2026, 3, 13, 18)

    def test_five_days_from_monday_opening(self, ireland: BusinessCalendar) -> None:
        """5d from Monday 09:00 is Friday 18:00 of the same week."""
        assert ireland.add_business_days(dublin(2026, 3, 9, 9), 5) == dublin(2026, 3, 13, 18)

    def test_a_day_is_the_regular_day_length(self) -> None:
        """An 08:00-16:30 team's day is 8.5h."""
        cal = BusinessCalendar(timezone="Europe/Dublin", hours=(time(8), time(16, 30)))
        assert cal.day_length == timedelta(hours=8, minutes=30)

    def test_negative_days_are_refused(self, ireland: BusinessCalendar) -> None:
        """Going back in working time is not a thing the SLA rules ask for."""
        with pytest.raises(ValueError, match="negative"):
            ireland.add_business_days(dublin(2026, 3, 9, 9), -1)


class TestDaylightSaving:
    def test_full_day_on_the_change_days_is_nine_hours(self) -> None:
        """09:00-18:00 on both Sundays the clocks change is 9 real hours."""
        cal = BusinessCalendar(timezone="Europe/Dublin", workdays=EVERY_DAY)
        for day in (date(2026, 3, 29), date(2026, 10, 25)):
            window = cal.day(day).window
            assert window is not None
            assert window[1] - window[0] == timedelta(hours=9)

    def test_window_spanning_the_change_counts_real_time(self) -> None:
        """00:00-06:00 is 5h on the spring-forward night and 7h on the fall-back night."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(0), time(6))
        )
        spring = cal.business_time_between(dublin(2026, 3, 29), dublin(2026, 3, 30))
        autumn = cal.business_time_between(dublin(2026, 10, 25), dublin(2026, 10, 26))
        assert (spring, autumn) == (timedelta(hours=5), timedelta(hours=7))

    def test_nonexistent_opening_moves_to_the_change(self) -> None:
        """01:30 does not exist on 29 Mar: the window opens when clocks jump to 02:00 IST."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(1, 30), time(3))
        )
        assert cal.day(date(2026, 3, 29)).window == (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))

    def test_ambiguous_opening_is_the_first_occurrence(self) -> None:
        """01:30 happens twice on 25 Oct: the window opens at the first (IST) one."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(1, 30), time(3))
        )
        assert cal.day(date(2026, 10, 25)).window == (
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 3),
        )

    def test_window_inside_the_skipped_hour_is_empty(self) -> None:
        """01:15-01:45 never happens on 29 Mar: that day has no working time, no crash."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(1, 15), time(1, 45))
        )
        assert cal.day(date(2026, 3, 29)).window is None
        assert cal.next_opening(utc(2026, 3, 29, 0, 30)) == dublin(2026, 3, 30, 1, 15)

    def test_no_double_count_in_the_repeated_hour(self) -> None:
        """Working through the repeated hour counts it once per real hour elapsed."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", workdays=EVERY_DAY, hours=(time(0), time(3))
        )
        start = dublin(2026, 10, 25, 0)
        assert cal.add_business_time(start, timedelta(hours=4)) == utc(2026, 10, 25, 3)


class TestOpenAndClosed:
    def test_opening_is_inclusive_and_closing_exclusive(self, ireland: BusinessCalendar) -> None:
        """09:00 is working time, 18:00 is not."""
        assert ireland.is_open(dublin(2026, 3, 4, 9))
        assert ireland.is_open(dublin(2026, 3, 4, 17, 59, 59))
        assert not ireland.is_open(dublin(2026, 3, 4, 18))

    def test_holiday_is_closed(self, ireland: BusinessCalendar) -> None:
        """Saint Patrick's Day is a day off in Ireland."""
        assert not ireland.is_open(dublin(2026, 3, 17, 12))
        assert ireland.day(date(2026, 3, 17)).name == "Saint Patrick's Day"

    def test_next_opening_of_an_open_instant_is_itself(self, ireland: BusinessCalendar) -> None:
        """Already open: nothing to wait for."""
        t = dublin(2026, 3, 4, 11, 11)
        assert ireland.next_opening(t) == t

    def test_next_opening_after_friday_close(self, ireland: BusinessCalendar) -> None:
        """Friday 18:00 waits for Monday 09:00."""
        assert ireland.next_opening(dublin(2026, 3, 6, 18)) == dublin(2026, 3, 9, 9)

    def test_half_day_opens_a_saturday_and_a_holiday(self) -> None:
        """An admin's half day is explicit and wins over weekends and public holidays."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin",
            country="IE",
            half_days={
                date(2026, 3, 7): (time(10), time(12)),
                date(2026, 3, 17): (time(9), time(11)),
            },
        )
        assert cal.is_open(dublin(2026, 3, 7, 11))
        assert cal.is_open(dublin(2026, 3, 17, 10))
        assert cal.day(date(2026, 3, 17)).kind is DayKind.HALF_DAY

    def test_closed_date_wins_over_half_day(self) -> None:
        """A date both closed and half-day is closed."""
        day = date(2026, 3, 4)
        cal = BusinessCalendar(
            timezone="Europe/Dublin", closed_dates=[day], half_days={day: (time(9), time(12))}
        )
        assert cal.day(day).kind is DayKind.CLOSED

    def test_working_intervals_explain_a_span(self, ireland: BusinessCalendar) -> None:
        """Friday afternoon to Monday morning is two pieces of working time."""
        pieces = list(ireland.working_intervals(dublin(2026, 3, 6, 16), dublin(2026, 3, 9, 11)))
        assert pieces == [
            (dublin(2026, 3, 6, 16), dublin(2026, 3, 6, 18)),
            (dublin(2026, 3, 9, 9), dublin(2026, 3, 9, 11)),
        ]

    def test_between_is_zero_backwards(self, ireland: BusinessCalendar) -> None:
        """A reversed span holds no working time."""
        assert ireland.business_time_between(dublin(2026, 3, 9), dublin(2026, 3, 6)) == timedelta()

    def test_subdivision_holidays(self) -> None:
        """Kuala Lumpur's Federal Territory Day exists only with subdivision 14."""
        national = BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY")
        federal = BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY", subdivision="14")
        assert national.holiday_name(date(2027, 2, 1)) is None
        assert federal.holiday_name(date(2027, 2, 1)) == "Federal Territory Day"


class TestConstruction:
    def test_from_rules(self) -> None:
        """The config schema's Calendar builds an equivalent BusinessCalendar."""
        rules = Calendar(
            timezone="Europe/Dublin",
            country="IE",
            hours=Hours(start=time(8), end=time(16)),
            closed_dates=[date(2026, 3, 5)],
            half_days={date(2026, 3, 6): Hours(start=time(8), end=time(12))},
        )
        cal = BusinessCalendar.from_rules(rules, name="dublin")
        assert cal.day_length == timedelta(hours=8)
        assert cal.day(date(2026, 3, 5)).kind is DayKind.CLOSED
        assert cal.add_business_time(dublin(2026, 3, 4, 15), timedelta(hours=2)) == dublin(
            2026, 3, 6, 9
        )

    def test_no_workdays_is_a_config_error(self) -> None:
        """A calendar that never opens is refused up front, not looped over forever."""
        with pytest.raises(ConfigError, match="at least one workday"):
            BusinessCalendar(timezone="Europe/Dublin", workdays=[], name="nobody")

    def test_closed_for_years_is_a_config_error(self) -> None:
        """A search that finds no working time for three years stops with a clear error."""
        first = date(2026, 1, 1)
        closed = [first + timedelta(days=i) for i in range(4 * 366)]
        cal = BusinessCalendar(timezone="Europe/Dublin", closed_dates=closed)
        with pytest.raises(ConfigError, match="no working time"):
            cal.add_business_time(dublin(2026, 1, 1, 10), timedelta(hours=1))

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"timezone": "Mars/Olympus"}, "unknown IANA time zone"),
            ({"timezone": "UTC", "country": "XX"}, "XX"),
            ({"timezone": "UTC", "country": "MY", "subdivision": "99"}, "99"),
            ({"timezone": "UTC", "subdivision": "14"}, "needs a country"),
            ({"timezone": "UTC", "workdays": ["mon", "funday"]}, "funday"),
            ({"timezone": "UTC", "hours": (time(18), time(9))}, "after opening"),
        ],
    )
    def test_bad_settings_are_config_errors(self, kwargs: dict[str, object], message: str) -> None:
        """Each bad setting names itself."""
        with pytest.raises(ConfigError, match=message):
            BusinessCalendar(**kwargs)  # type: ignore[arg-type]

    def test_lowercase_country_is_accepted(self) -> None:
        """`ie` reads as `IE`."""
        cal = BusinessCalendar(timezone="Europe/Dublin", country="ie")
        assert cal.holiday_name(date(2026, 3, 17)) == "Saint Patrick's Day"

    def test_naive_datetimes_are_refused(self, ireland: BusinessCalendar) -> None:
        """A naive datetime is a bug in the caller, never silently read as UTC."""
        with pytest.raises(ValueError, match="timezone-aware"):
            ireland.is_open(datetime(2026, 3, 4, 10))

    def test_negative_duration_is_refused(self, ireland: BusinessCalendar) -> None:
        """Working time only moves forward."""
        with pytest.raises(ValueError, match="negative"):
            ireland.add_business_time(dublin(2026, 3, 4, 10), timedelta(minutes=-1))
