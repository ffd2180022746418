"""A clock's thresholds from the rules, and the columns the ledger keeps beside it.

`fire_due` reads each clock's thresholds off the `schedule` that `sync_clocks` stored with
it (`derived_columns`), which is stamped with its calendar's basis (`CalendarBook.basis`);
a schedule whose basis or thresholds no longer match the rules (or a clock from before
schedules) is worked out again from the calendar (`planned_schedule` says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.rules import EscalationStep, Rules, SlaPolicy
from domain.sla import (
    BREACH,
    Schedule,
    SlaClock,
    policy_thresholds,
    scheduled_next,
    threshold_schedule,
)
from integrations.calendars import CalendarBook
from integrations.db.clocks import PAUSED, RUNNING, STOPPED

# Who the audit trail says changed or fired a clock.
ACTOR = "govflow"


def escalation_steps(rules: Rules, policy: SlaPolicy | None, team: str) -> list[EscalationStep]:
    """The team's own escalation chain if it has one, else the policy's."""
    found = rules.teams.get(team)
    if found is not None and found.escalation is not None:
        return list(found.escalation)
    return list(policy.escalation) if policy is not None else []


def thresholds_of(rules: Rules, policy_key: str, team: str, clock: SlaClock) -> tuple[float, ...]:
    """Every threshold a clock fires, from the rules as they are now (breach always included).

    A policy that has since left the rules still warns where the clock was told to, and
    breaches.
    """
    policy = rules.sla_policies.get(policy_key)
    warn_at = policy.warn_at if policy is not None else clock.warn_at
    steps = escalation_steps(rules, policy, team)
    return policy_thresholds(warn_at, [s.at for s in steps])


def derived_columns(
    clock: SlaClock, book: CalendarBook, calendar_key: str, thresholds: Sequence[float]
) -> tuple[str, datetime | None, datetime | None, dict[str, Any] | None]:
    """(status, next_due_at, due_at, schedule) of a clock, as the ledger's columns hold them."""
    status = clock_status(clock)
    calendar, basis = book.get(calendar_key), book.basis(calendar_key)
    if calendar is None or basis is None:
        return status, None, None, None
    schedule = threshold_schedule(clock, calendar, thresholds)
    return (
        status,
        scheduled_next(clock, schedule),
        breach_at(schedule),
        stored_schedule(schedule, basis),
    )


def stored_schedule(schedule: Schedule, basis: str) -> dict[str, Any]:
    """A schedule as the ledger's `schedule` column holds it."""
    at = [[f, t.isoformat() if t is not None else None] for f, t in schedule]
    return {"basis": basis, "at": at}


def planned_schedule(
    stored: dict[str, Any] | None, basis: str, thresholds: Sequence[float]
) -> Schedule | None:
    """The stored schedule, unless it was worked out on another calendar or thresholds."""
    if stored is None or stored.get("basis") != basis:
        return None
    entries = stored.get("at") or []
    if [f for f, _ in entries] != list(thresholds):
        return None
    return tuple((f, datetime.fromisoformat(t) if t is not None else None) for f, t in entries)


def breach_at(schedule: Schedule) -> datetime | None:
    """The due time: when the breach threshold (always in the schedule) falls due."""
    return next((t for f, t in schedule if f == BREACH), None)


def dump_clock(clock: SlaClock) -> dict[str, Any]:
    """A clock as the ledger's `clock` column holds it."""
    return clock.model_dump(mode="json")


def clock_status(clock: SlaClock) -> str:
    """The ledger's `status` of a clock: stopped, paused or running."""
    return STOPPED if clock.stopped_at else PAUSED if clock.paused_since else RUNNING
