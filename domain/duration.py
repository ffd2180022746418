"""SLA targets as written in the rules (`30m`, `4h`, `5d`) and how they read as working time.

Every target is an amount of *working time*. Minutes and hours are plain; a day is one full
regular working day of the calendar that runs the clock (09:00-18:00 makes `1d` = 9h), so
`5d` = 45 working hours on that calendar. See `domain.calendar` for what that means on the
wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from domain.errors import ConfigError, ConfigProblem
from domain.rules import DURATION

Unit = Literal["m", "h", "d"]

# The rules schema's grammar: what loads as a duration also parses as one.
_DURATION = DURATION
_MICROSECONDS = {"m": 60_000_000, "h": 3_600_000_000}


@dataclass(frozen=True)
class BusinessDuration:
    """An SLA target: a non-negative amount of minutes, hours or working days."""

    amount: Decimal
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"a duration cannot be negative: {self.amount}{self.unit}")

    def __str__(self) -> str:
        return f"{self.amount.normalize():f}{self.unit}"

    def working_time(self, day_length: timedelta) -> timedelta:
        """The working time this target stands for, given the calendar's full day length."""
        if self.unit == "d":
            per_unit = Decimal(day_length // timedelta(microseconds=1))
        else:
            per_unit = Decimal(_MICROSECONDS[self.unit])
        # Decimal keeps "1.5d" exact down to the microsecond instead of drifting like float.
        return timedelta(microseconds=int(self.amount * per_unit))


def parse_duration(text: str) -> BusinessDuration:
    """Read `30m`, `4h`, `5d` or `1.5d`; raise ConfigError for anything else."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ConfigError(
            [
                ConfigProblem(
                    source="rules",
                    line=None,
                    where="sla target",
                    message=f"{text!r} is not a duration like 30m, 4h or 5d",
                )
            ]
        )
    unit: Unit = "m" if match["unit"] == "m" else "h" if match["unit"] == "h" else "d"
    return BusinessDuration(Decimal(match["n"]), unit)


def format_duration(value: timedelta) -> str:
    """Render a span of working time for people: `45h`, `2h 30m`, `0m`, `1h 0m 12s`."""
    sign = "-" if value < timedelta(0) else ""
    total = abs(value)
    seconds = total // timedelta(seconds=1)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes or (hours and secs):
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs}s")
    # Sub-second remainders only come from fractional thresholds; they are not worth showing.
    return sign + (" ".join(parts) if parts else "0m")
