"""Worked examples of SLA clocks: due times, pauses, states, thresholds and explanations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import BusinessCalendar, DayKind
from domain.duration import BusinessDuration, format_duration
from domain.errors import ConfigError, InvalidTransition
from domain.sla import (
    PausedSpan,
    SlaClock,
    SlaState,
    counted_time,
    due_at,
    due_thresholds,
    elapsed_fraction,
    explain,
    mark_fired,
    next_fire_at,
    parse_duration,
    pause,
    policy_thresholds,
    resume,
    start_clock,
    state,
    stop,
    threshold_at,
)
from domain.stages import Stage

DUBLIN = ZoneInfo("Europe/Dublin")
KUALA_LUMPUR = ZoneInfo("Asia/Kuala_Lumpur")
THRESHOLDS = (0.5, 0.75, 1.0, 1.5)


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


@pytest.fixture
def ireland() -> BusinessCalendar:
    """Dublin, Monday to Friday 09:00-18:00, Irish public holidays."""
    return BusinessCalendar(timezone="Europe/Dublin", country="IE", name="dublin")


def clock(target: str = "4h", start: datetime | None = None) -> SlaClock:
    """An expert-review clock started on Monday 2 March 2026, 09:00 in Dublin."""
    return start_clock(
        stage=Stage.EXPERT_REVIEW,
        target=target,
        now=start or dublin(2026, 3, 2, 9),
        warn_at=(0.5, 0.75),
        team="experts",
    )


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "amount", "unit"),
        [("30m", "30", "m"), ("4h", "4", "h"), ("5d", "5", "d"), (" 1.5d ", "1.5", "d")],
    )
    def test_accepts_rule_durations(self, text: str, amount: str, unit: str) -> None:
        """The three units of the rules, fractions allowed."""
        assert parse_duration(text) == BusinessDuration(Decimal(amount), unit)  # type: ignore[arg-type]

    @pytest.mark.parametrize("text", ["4", "4w", "-1h", "h", "", "4 hours"])
    def test_refuses_anything_else(self, text: str) -> None:
        """Anything else is a config error naming the text."""
        with pytest.raises(ConfigError, match="not a duration"):
            parse_duration(text)

    def test_days_are_calendar_day_lengths(self) -> None:
        """1.5d on a 9h day is 13.5h of working time; 30m is 30 minutes anywhere."""
        assert parse_duration("1.5d").working_time(timedelta(hours=9)) == timedelta(hours=13.5)
        assert parse_duration("30m").working_time(timedelta(hours=9)) == timedelta(minutes=30)

    def test_prints_back_as_written(self) -> None:
        """A target renders the way the rules wrote it."""
        assert [str(parse_duration(t)) for t in ("30m", "4h", "1.5d", "5.0d")] == [
            "30m",
            "4h",
            "1.5d",
            "5d",
        ]

    def test_format_duration(self) -> None:
        """Working time reads as hours and minutes."""
        assert format_duration(timedelta(hours=45)) == "45h"
        assert format_duration(timedelta(hours=2, minutes=30)) == "2h 30m"
        assert format_duration(timedelta(0)) == "0m"


class TestDueAt:
    def test_four_hours_from_monday_morning(self, ireland: BusinessCalendar) -> None:
        """4h from 09:00 is due at 13:00."""
        assert due_at(clock("4h"), ireland) == dublin(2026, 3, 2, 13)

    def test_five_days_from_monday_opening_is_friday_closing(
        self, ireland: BusinessCalendar
    ) -> None:
        """5d from Monday 09:00 is due (and breached) at Friday 18:00, not Monday 09:00."""
        c = clock("5d")
        assert due_at(c, ireland) == dublin(2026, 3, 6, 18)
        assert state(c, ireland, dublin(2026, 3, 6, 17, 59)) is SlaState.AT_RISK
        assert state(c, ireland, dublin(2026, 3, 6, 18)) is SlaState.BREACHED
        assert state(c, ireland, dublin(2026, 3, 7, 12)) is SlaState.BREACHED

    def test_pause_pushes_due_out_by_the_working_time_it_covered(
        self, ireland: BusinessCalendar
    ) -> None:
        """Paused 10:00 Monday to 10:00 Tuesday (9h of working time): due 13:00 Tuesday."""
        c = resume(pause(clock("4h"), dublin(2026, 3, 2, 10)), dublin(2026, 3, 3, 10))
        assert due_at(c, ireland) == dublin(2026, 3, 3, 13)

    def test_pause_over_a_weekend_costs_nothing(self, ireland: BusinessCalendar) -> None:
        """A pause that covers no working time does not move the due time."""
        friday = clock("4h", dublin(2026, 3, 6, 16))
        paused = resume(pause(friday, dublin(2026, 3, 6, 18)), dublin(2026, 3, 9, 9))
        assert due_at(paused, ireland) == due_at(friday, ireland) == dublin(2026, 3, 9, 11)

    def test_paused_short_of_the_target_has_no_due_time(self, ireland: BusinessCalendar) -> None:
        """While paused, the due time is not known yet."""
        assert due_at(pause(clock(), dublin(2026, 3, 2, 10)), ireland) is None

    def test_breached_before_the_pause_keeps_its_due_time(self, ireland: BusinessCalendar) -> None:
        """A pause after the breach does not move a due time already passed."""
        c = pause(clock("4h"), dublin(2026, 3, 2, 15))
        assert due_at(c, ireland) == dublin(2026, 3, 2, 13)

    def test_across_a_malaysian_holiday(self) -> None:
        """A 1d sign-off in Kuala Lumpur started the day before Malaysia Day."""
        cal = BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY")
        c = clock("1d", kl(2026, 9, 15, 15))
        assert due_at(c, cal) == kl(2026, 9, 17, 15)


class TestNeedsInfoPause:
    def test_paused_clock_stands_still(self, ireland: BusinessCalendar) -> None:
        """Paused at 10:00 for NEEDS_INFO, the clock counts 1h all week long."""
        c = pause(clock("4h"), dublin(2026, 3, 2, 10))
        for now in (dublin(2026, 3, 2, 10), dublin(2026, 3, 3, 17), dublin(2026, 3, 6, 12)):
            assert counted_time(c, ireland, now) == timedelta(hours=1)
            assert elapsed_fraction(c, ireland, now) == 0.25
            assert state(c, ireland, now) is SlaState.PAUSED

    def test_resumed_clock_counts_on(self, ireland: BusinessCalendar) -> None:
        """After the answer on Thursday 09:00 it counts again from 1h."""
        c = resume(pause(clock("4h"), dublin(2026, 3, 2, 10)), dublin(2026, 3, 5, 9))
        assert counted_time(c, ireland, dublin(2026, 3, 5, 10)) == timedelta(hours=2)
        assert due_at(c, ireland) == dublin(2026, 3, 5, 12)

    def test_pause_and_resume_are_idempotent(self) -> None:
        """Pausing twice or resuming a running clock changes nothing."""
        paused = pause(clock(), dublin(2026, 3, 2, 10))
        assert pause(paused, dublin(2026, 3, 2, 11)) == paused
        running = clock()
        assert resume(running, dublin(2026, 3, 2, 11)) == running

    def test_stop_closes_a_pause(self, ireland: BusinessCalendar) -> None:
        """Cancelling during NEEDS_INFO records the pause up to the stop."""
        c = stop(pause(clock(), dublin(2026, 3, 2, 10)), dublin(2026, 3, 3, 10))
        assert c.pauses == (PausedSpan(start=dublin(2026, 3, 2, 10), end=dublin(2026, 3, 3, 10)),)
        assert c.paused_since is None
        assert state(c, ireland, dublin(2026, 3, 4)) is SlaState.STOPPED

    def test_stopped_clock_cannot_pause_or_resume(self) -> None:
        """A stopped clock is final."""
        c = stop(clock(), dublin(2026, 3, 2, 10))
        with pytest.raises(InvalidTransition):
            pause(c, dublin(2026, 3, 2, 11))
        with pytest.raises(InvalidTransition):
            resume(c, dublin(2026, 3, 2, 11))
        assert stop(c, dublin(2026, 3, 2, 12)) == c

    def test_backward_now_never_makes_negative_spans(self, ireland: BusinessCalendar) -> None:
        """A resume stamped before its pause (clock went back) is a zero-length pause."""
        c = resume(pause(clock(), dublin(2026, 3, 2, 10)), dublin(2026, 3, 2, 9, 30))
        assert c.pauses == (PausedSpan(start=dublin(2026, 3, 2, 10), end=dublin(2026, 3, 2, 10)),)
        assert due_at(c, ireland) == dublin(2026, 3, 2, 13)


class TestStates:
    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            ((2026, 3, 2, 8), SlaState.ON_TRACK),
            ((2026, 3, 2, 10, 59), SlaState.ON_TRACK),
            ((2026, 3, 2, 11), SlaState.AT_RISK),
            ((2026, 3, 2, 12, 59), SlaState.AT_RISK),
            ((2026, 3, 2, 13), SlaState.BREACHED),
        ],
    )
    def test_four_hour_clock(
        self, ireland: BusinessCalendar, at: tuple[int, ...], expected: SlaState
    ) -> None:
        """At risk from the first warning (50% at 11:00), breached from 13:00 on."""
        assert state(clock("4h"), ireland, dublin(*at)) is expected

    def test_fraction_goes_past_one(self, ireland: BusinessCalendar) -> None:
        """Two hours late on a 4h target is 150%."""
        assert elapsed_fraction(clock("4h"), ireland, dublin(2026, 3, 2, 15)) == 1.5

    def test_clock_survives_json(self) -> None:
        """The ledger stores a clock as JSON and gets the same clock back."""
        c = mark_fired(pause(clock("1.5d"), dublin(2026, 3, 2, 10)), [0.5])
        assert SlaClock.model_validate_json(c.model_dump_json()) == c
        assert '"target":"1.5d"' in c.model_dump_json()

    def test_naive_instants_are_refused(self) -> None:
        """A clock cannot start at a naive time."""
        with pytest.raises(ValueError, match="timezone-aware"):
            clock(start=datetime(2026, 3, 2, 9))

    def test_out_of_order_spans_are_refused(self) -> None:
        """A pause before the start would count time backwards."""
        with pytest.raises(ValueError, match="backwards"):
            SlaClock(
                stage=Stage.SIGN_OFF,
                target="4h",
                started_at=dublin(2026, 3, 2, 9),
                pauses=(PausedSpan(start=dublin(2026, 3, 1), end=dublin(2026, 3, 2)),),
            )


class TestThresholds:
    def test_instants(self, ireland: BusinessCalendar) -> None:
        """A 4h clock from 09:00: 50% at 11:00, 75% at 12:00, breach 13:00, 150% at 15:00."""
        c = clock("4h")
        assert [threshold_at(c, ireland, f) for f in THRESHOLDS] == [
            dublin(2026, 3, 2, h) for h in (11, 12, 13, 15)
        ]

    def test_each_fires_once_through_jumps(self, ireland: BusinessCalendar) -> None:
        """Late watchdog fires the skipped ones in order; a clock jump back fires nothing."""
        c = clock("4h")
        assert next_fire_at(c, ireland, THRESHOLDS) == dublin(2026, 3, 2, 11)
        assert due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 2, 10, 59)) == []

        first = due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 2, 12, 30))
        assert first == [0.5, 0.75]
        c = mark_fired(c, first)
        assert next_fire_at(c, ireland, THRESHOLDS) == dublin(2026, 3, 2, 13)

        for back in (dublin(2026, 3, 2, 10), dublin(2026, 3, 2, 12, 30)):
            assert due_thresholds(c, ireland, THRESHOLDS, back) == []

        rest = due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 3, 9, 30))
        assert rest == [1.0, 1.5]
        c = mark_fired(c, rest)
        assert next_fire_at(c, ireland, THRESHOLDS) is None
        assert due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 9)) == []

    def test_paused_clock_fires_only_what_it_crossed(self, ireland: BusinessCalendar) -> None:
        """Paused at 11:30, the 50% warning (11:00) is still due; 75% waits for resume."""
        c = pause(clock("4h"), dublin(2026, 3, 2, 11, 30))
        assert due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 4)) == [0.5]
        c = mark_fired(c, [0.5])
        assert next_fire_at(c, ireland, THRESHOLDS) is None
        c = resume(c, dublin(2026, 3, 3, 9))
        assert next_fire_at(c, ireland, THRESHOLDS) == dublin(2026, 3, 3, 9, 30)

    def test_stopped_clock_fires_nothing(self, ireland: BusinessCalendar) -> None:
        """Once the work is done, no reminder is due."""
        c = stop(clock("4h"), dublin(2026, 3, 2, 10))
        assert next_fire_at(c, ireland, THRESHOLDS) is None
        assert due_thresholds(c, ireland, THRESHOLDS, dublin(2026, 3, 3)) == []

    def test_policy_thresholds_always_include_the_breach(self) -> None:
        """Warnings and escalation steps merge, sorted, with 1.0 added once."""
        assert policy_thresholds([0.75, 0.5], [1.0, 1.5, 0.75]) == (0.5, 0.75, 1.0, 1.5)
        assert policy_thresholds([]) == (1.0,)


class TestExplain:
    def test_names_the_holiday_and_the_pause(self) -> None:
        """The explanation shows counted intervals, Malaysia Day and the NEEDS_INFO pause."""
        cal = BusinessCalendar(timezone="Asia/Kuala_Lumpur", country="MY", name="kl")
        c = clock("1d", kl(2026, 9, 15, 15))
        c = resume(pause(c, kl(2026, 9, 15, 16)), kl(2026, 9, 17, 10))
        result = explain(c, cal, kl(2026, 9, 17, 12))

        assert result.due_at == kl(2026, 9, 17, 18)
        assert result.intervals == (
            (kl(2026, 9, 15, 15), kl(2026, 9, 15, 16)),
            (kl(2026, 9, 17, 10), kl(2026, 9, 17, 18)),
        )
        assert [(d.day, d.kind, d.name) for d in result.days] == [
            (date(2026, 9, 16), DayKind.HOLIDAY, "Malaysia Day")
        ]
        assert [p.working_time for p in result.pauses] == [timedelta(hours=3)]
        assert result.counted == timedelta(hours=3)

        text = result.render()
        assert "target 1d = 9h of working time" in text
        assert "Malaysia Day (holiday)" in text
        assert "Thu 17 Sep 2026 18:00 +08 (10:00 UTC)" in text

    def test_half_day_and_stop_verdict(self) -> None:
        """A half day is listed, and a stopped clock says whether it met its target."""
        cal = BusinessCalendar(
            timezone="Europe/Dublin", half_days={date(2026, 3, 3): (time(9), time(13))}
        )
        c = stop(clock("1d", dublin(2026, 3, 2, 14)), dublin(2026, 3, 3, 12))
        result = explain(c, cal, dublin(2026, 3, 4))
        assert result.state is SlaState.STOPPED
        assert result.due_at == dublin(2026, 3, 4, 10)
        assert "half day 09:00-13:00 (half_day)" in result.render()
        assert "(met the target)" in result.render()

    def test_still_paused(self, ireland: BusinessCalendar) -> None:
        """A paused clock's explanation says the due time is not known yet."""
        c = pause(clock("4h"), dublin(2026, 3, 2, 10))
        result = explain(c, ireland, dublin(2026, 3, 3, 9))
        assert result.due_at is None
        assert result.pauses[-1].end is None
        assert result.pauses[-1].working_time == timedelta(hours=8)
        assert "still paused" in result.render()
        assert "not known while paused" in result.render()
        assert result.now.tzinfo is UTC
