"""Keeping a request's SLA clocks in step with its lifecycle state (`sync_clocks`).

`sync_clocks` runs after every change of a request's lifecycle state (intake routing,
`advance`). It reconciles the request's clocks with its state rather than replaying the
notices: the state says which clocks should exist and whether they count (expert review:
the expert team's; sign-off: one per team that has not signed off in this round; SOP update:
the route's SOP owner, else the expert team; NEEDS_INFO: those of the stage it paused, all
paused; terminal stages: none). Whatever else runs is stopped. That makes it idempotent
and right even when one `advance` applied several events at once; the notices only supply
the reasons written to the audit trail. Given a session, it never commits it.

Choices where the brief left room:
- A clock belongs to (stage, team, round); `round` is the sign-off round the stage belongs
  to (expert review before the first sign-off is round 0). An expert review after "changes
  requested" is a new clock with the full target; a NEEDS_INFO pause keeps the clock.
- The Jira due date is the local date (on the team's calendar) of the earliest due time
  among *running* clocks, and is cleared while none runs (NEEDS_INFO, terminal stages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.calendar import BusinessCalendar
from domain.lifecycle import RequestState
from domain.notices import (
    Cancelled,
    InfoReceived,
    InfoRequested,
    Notice,
    StageChanged,
    TeamSignedOff,
)
from domain.rules import PRIORITIES, Priority, Route, Rules, SlaPolicy
from domain.sla import SlaClock, pause, resume, start_clock, stop
from domain.stages import STAGES, Stage
from govflow.clock_schedules import ACTOR, derived_columns, dump_clock, thresholds_of
from govflow.clock_text import describe, when_text
from integrations.calendars import CalendarBook
from integrations.db.audit import record_audit
from integrations.db.clocks import PAUSED, RUNNING, STOPPED, NewClock, clocks_of, insert_clock
from integrations.db.models import AuditRow, RequestRow, SlaClockRow
from integrations.db.outbox import enqueue_effect
from integrations.delivery import EffectKind


@dataclass(frozen=True)
class _Wanted:
    """A clock the request's state says should exist."""

    stage: Stage
    team: str
    round: int

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.stage.value, self.team, self.round)


def wanted_clocks(state: RequestState, rules: Rules) -> list[_Wanted]:
    """The clocks that should exist for `state` (paused ones included), in start order.

    One per team whose turn it is in a timed stage (`RequestState.waiting_on`); a pause for
    the requester keeps the clocks of the stage it will resume.
    """
    stage = state.resume_stage if state.stage is Stage.NEEDS_INFO else state.stage
    if stage is None or not STAGES[stage].timed:
        return []
    return [_Wanted(stage, team, state.round) for team in state.waiting_on(rules, at=stage).teams]


def sync_clocks(
    session: Session,
    request: RequestRow,
    state: RequestState,
    notices: Sequence[Notice],
    rules: Rules,
    now: datetime,
) -> list[str]:
    """Bring the request's clocks in line with its lifecycle state; one line per change.

    Call it with the request row locked, after the state (and its notices) were applied.
    Idempotent: a second call with the same state changes nothing and writes nothing.
    """
    book = CalendarBook(rules)
    route = _route(rules, request.route_name)
    rows = list(clocks_of(session, request.id, lock=True))
    before = _earliest_due(rows)
    wanted = wanted_clocks(state, rules)
    wanted_keys = {w.key for w in wanted}
    waiting = state.stage is Stage.NEEDS_INFO
    sync = _Sync(session=session, request=request, rules=rules, book=book, now=now)
    for row in rows:
        if row.status != STOPPED and (row.stage, row.team, row.round) not in wanted_keys:
            sync.change(row, "stopped", _why_stopped(notices, row))
    existing = {(r.stage, r.team, r.round): r for r in rows}
    for want in wanted:
        found = existing.get(want.key) or sync.start(want, route, notices)
        if found is None:
            continue
        if found not in rows:
            rows.append(found)
        row = found
        if row.status == RUNNING and waiting:
            sync.change(row, "paused", _why_paused(notices))
        elif row.status == PAUSED and not waiting:
            sync.change(row, "resumed", _why_resumed(notices))
    after = _earliest_due(rows)
    _update_due_date(sync, before, after)
    return sync.lines


@dataclass(frozen=True)
class _Plan:
    """What starting one clock needs from the rules."""

    policy_key: str
    policy: SlaPolicy
    calendar_key: str
    calendar: BusinessCalendar
    target: str


@dataclass
class _Sync:
    """One `sync_clocks` call: where it writes, and the lines it reports."""

    session: Session
    request: RequestRow
    rules: Rules
    book: CalendarBook
    now: datetime
    lines: list[str] = field(default_factory=list)

    def start(
        self, want: _Wanted, route: Route | None, notices: Sequence[Notice]
    ) -> SlaClockRow | None:
        """Start the wanted clock; None when the rules give it no target (or cannot)."""
        plan = self.plan(want, route)
        if isinstance(plan, str):
            self.not_started(want, plan)
            return None
        if plan is None:
            return None
        clock = start_clock(
            stage=want.stage,
            target=plan.target,
            now=self.now,
            warn_at=plan.policy.warn_at,
            team=want.team,
        )
        thresholds = thresholds_of(self.rules, plan.policy_key, want.team, clock)
        status, next_due, due, schedule = derived_columns(
            clock, self.book, plan.calendar_key, thresholds
        )
        row = insert_clock(
            self.session,
            NewClock(
                request_id=self.request.id,
                stage=want.stage.value,
                team=want.team,
                round=want.round,
                calendar=plan.calendar_key,
                sla_policy=plan.policy_key,
                clock=dump_clock(clock),
                status=status,
                next_due_at=next_due,
                due_at=due,
                schedule=schedule,
            ),
            self.now,
        )
        if row is None:  # started by a concurrent call after we looked
            return None
        self.audit(row, "clock_started", _why_started(notices), target=plan.target)
        self.lines.append(
            f"started {describe(self.rules, row)}, due {when_text(due, plan.calendar)}"
        )
        return row

    def plan(self, want: _Wanted, route: Route | None) -> _Plan | str | None:
        """How to start the clock; None when it has no SLA; a reason when it cannot start."""
        if route is None:
            return f"route {self.request.route_name!r} is not in the rules"
        policy = self.rules.sla_policies.get(route.sla_policy)
        if policy is None:
            return f"SLA policy {route.sla_policy!r} is not in the rules"
        target = _target(route, policy, want, _priority(self.request, self.rules))
        if target is None:
            return None  # the policy sets no target for this stage: no SLA, not a problem
        team = self.rules.teams.get(want.team)
        if team is None:
            return f"team {want.team!r} is not in the rules"
        calendar = self.book.get(team.calendar)
        if calendar is None:
            return f"calendar {team.calendar!r} of team {want.team!r} is not in the rules"
        return _Plan(route.sla_policy, policy, team.calendar, calendar, target)

    def not_started(self, want: _Wanted, reason: str) -> None:
        """Audit, once per clock, that the rules did not let it start."""
        detail = {"stage": want.stage.value, "team": want.team, "round": want.round}
        earlier = self.session.scalars(
            select(AuditRow.detail).where(
                AuditRow.request_id == self.request.id, AuditRow.action == "clock_not_started"
            )
        ).all()
        if detail in [{k: d.get(k) for k in detail} for d in earlier]:
            return
        record_audit(
            self.session,
            at=self.now,
            actor=ACTOR,
            action="clock_not_started",
            request_id=self.request.id,
            reason=reason,
            detail=detail,
        )
        self.lines.append(f"no {STAGES[want.stage].noun} clock for {want.team}: {reason}")

    def change(self, row: SlaClockRow, verb: str, reason: str) -> None:
        """Stop, pause or resume a clock at `now`, keeping its derived columns true."""
        clock = SlaClock.model_validate(row.clock)
        changed = {"stopped": stop, "paused": pause, "resumed": resume}[verb](clock, self.now)
        thresholds = thresholds_of(self.rules, row.sla_policy, row.team, changed)
        row.clock = dump_clock(changed)
        # A stopped clock keeps the due time it had, so a report can tell if it was met.
        derived = derived_columns(changed, self.book, row.calendar, thresholds)
        row.status, row.next_due_at, row.due_at, row.schedule = derived
        row.updated_at = self.now
        self.audit(row, f"clock_{verb}", reason)
        self.lines.append(f"{verb} {describe(self.rules, row)}: {reason}")

    def audit(self, row: SlaClockRow, action: str, reason: str, **extra: Any) -> None:
        """One audit record about one clock."""
        detail: dict[str, Any] = {
            "clock_id": row.id,
            "stage": row.stage,
            "team": row.team,
            "round": row.round,
            "due_at": row.due_at.isoformat() if row.due_at else None,
            **extra,
        }
        record_audit(
            self.session,
            at=self.now,
            actor=ACTOR,
            action=action,
            request_id=self.request.id,
            reason=reason,
            detail=detail,
        )


def _update_due_date(
    sync: _Sync, before: tuple[datetime, str] | None, after: tuple[datetime, str] | None
) -> None:
    """Queue the Jira due-date field when the earliest running due date moved."""
    field_id = sync.rules.jira.due_date_field
    old, new = _due_date(sync.book, before), _due_date(sync.book, after)
    if field_id is None or old == new:
        return
    stamp = f"{sync.now:%Y%m%dT%H%M%S%f}"
    enqueue_effect(
        sync.session,
        request_id=sync.request.id,
        kind=EffectKind.JIRA_FIELDS,
        payload={"fields": {field_id: new}},
        idempotency_key=f"{sync.request.jira_key}:due-date:{new or 'none'}:{stamp}",
        now=sync.now,
    )
    sync.lines.append(f"Jira {field_id} set to {new or 'nothing'}")


def _due_date(book: CalendarBook, earliest: tuple[datetime, str] | None) -> str | None:
    if earliest is None:
        return None
    when, calendar_key = earliest
    calendar = book.get(calendar_key)
    local = calendar.local(when) if calendar is not None else when
    return local.date().isoformat()


def _earliest_due(rows: Iterable[SlaClockRow]) -> tuple[datetime, str] | None:
    running = [(r.due_at, r.calendar) for r in rows if r.status == RUNNING and r.due_at]
    return min(running, key=lambda pair: pair[0]) if running else None


def _route(rules: Rules, name: str | None) -> Route | None:
    return next((r for r in rules.routing if r.name == name), None)


def _priority(request: RequestRow, rules: Rules) -> Priority:
    for p in PRIORITIES:
        if request.priority == p:
            return p
    return rules.jira.default_priority


def _target(route: Route, policy: SlaPolicy, want: _Wanted, priority: Priority) -> str | None:
    if want.stage is Stage.SIGN_OFF:
        override = next((s.sla for s in route.signoff if s.team == want.team), None)
        if override is not None:
            return override
    return policy.targets.get(want.stage, {}).get(priority)


def _last_stage_reason(notices: Sequence[Notice]) -> str | None:
    changes = [n.reason for n in notices if isinstance(n, StageChanged)]
    return changes[-1] if changes else None


def _why_started(notices: Sequence[Notice]) -> str:
    return _last_stage_reason(notices) or "the request's stage needs it"


def _why_stopped(notices: Sequence[Notice], row: SlaClockRow) -> str:
    for notice in notices:
        if isinstance(notice, TeamSignedOff) and notice.team == row.team:
            return f"{notice.team} signed off round {notice.round}"
        if isinstance(notice, Cancelled):
            return f"cancelled by {notice.by.label}: {notice.reason}"
    return _last_stage_reason(notices) or "the request no longer waits on this step"


def _why_paused(notices: Sequence[Notice]) -> str:
    asked = [n for n in notices if isinstance(n, InfoRequested)]
    if asked:
        return f"waiting for the requester: {asked[-1].question}"
    return _last_stage_reason(notices) or "waiting for the requester"


def _why_resumed(notices: Sequence[Notice]) -> str:
    if any(isinstance(n, InfoReceived) and n.resumed for n in notices):
        return "the requester answered"
    return _last_stage_reason(notices) or "no longer waiting for the requester"
