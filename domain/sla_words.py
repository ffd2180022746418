"""The plain words of SLA clocks, shared by the audit trail, the Slack and Jira renderers and
the cards: a step as people say it ("QA sign-off"), an instant on a team's wall clock
("Tue 3 Dec 17:00 UTC+8"), and the one-line headline of a threshold reached.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache

from domain.notices import SlaThresholdReached
from domain.rules import Rules
from domain.sla import BREACH
from domain.stages import STAGES
from domain.teams import team_label

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The stage table's nouns by stored value ("the sign-off clock"), looked up once per word.
_NOUNS: dict[str, str] = {stage.value: info.noun for stage, info in STAGES.items()}


def step_label(rules: Rules, team: str, stage: str) -> str:
    """The team's name and the stage as people say it, e.g. "QA sign-off"."""
    # A stage a newer version wrote is said as stored.
    return f"{team_label(rules, team)} {_NOUNS.get(stage, stage)}"


def wall_clock(local: datetime) -> str:
    """An instant already on a team's wall clock, e.g. "Tue 3 Dec 17:00 UTC+8"."""
    # Cached on the reading and its zone, not the instant: the same instant in two zones
    # compares equal. A fired threshold is worded for up to four audiences, a sweep a
    # thousand of them.
    return _wall_clock(local.replace(tzinfo=None), local.tzinfo, local.fold)


@lru_cache(maxsize=1024)
def _wall_clock(reading: datetime, zone: tzinfo | None, fold: int) -> str:
    local = reading.replace(tzinfo=zone, fold=fold)
    # Day and month names as strftime's %a and %b give them in the C locale, without its
    # cost.
    day, month = _DAY_NAMES[local.weekday()], _MONTH_NAMES[local.month - 1]
    return f"{day} {local.day} {month} {local.hour:02d}:{local.minute:02d} {zone_name(local)}"


def zone_name(local: datetime) -> str:
    """The zone's abbreviation, or UTC+8 where tzdata has only a number ("+08")."""
    name = local.tzname() or ""
    if name[:1] not in "+-":
        return name
    offset = local.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def due_text(notice: SlaThresholdReached) -> str:
    """When the step is due, on its team's wall clock."""
    return wall_clock(notice.due) if notice.due is not None else "not known while paused"


def sla_step(notice: SlaThresholdReached, rules: Rules) -> str:
    """The step whose clock reached the threshold, e.g. "QA sign-off"."""
    return step_label(rules, notice.team, notice.stage)


def sla_headline(notice: SlaThresholdReached, rules: Rules) -> str:
    """One line saying how much of its SLA the step used: the audit reason, and Slack's head."""
    step, when, target = sla_step(notice, rules), due_text(notice), notice.target
    if notice.breached:
        over = "" if notice.fraction == BREACH else f" ({notice.fraction:.0%} of it)"
        return f"{step} passed its {target} SLA{over}: due {when}"
    return f"{step} used {notice.fraction:.0%} of its {target} SLA: due {when}"
