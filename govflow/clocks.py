"""SLA clocks of requests: keeping them in step with the lifecycle, and firing their thresholds.

Use cases over the ledger; those given a session never commit it:

- `sync_clocks` runs after every change of a request's lifecycle state (intake routing,
  `advance`). It reconciles the request's clocks with its state rather than replaying the
  notices: the state says which clocks should exist and whether they count (expert review:
  the expert team's; sign-off: one per team that has not signed off in this round; SOP update:
  the route's SOP owner, else the expert team; NEEDS_INFO: those of the stage it paused, all
  paused; terminal stages: none). Whatever else runs is stopped. That makes it idempotent
  and right even when one `advance` applied several events at once; the notices only supply
  the reasons written to the audit trail.
- `fire_due` is one batch of the watchdog's sweep: every due clock's thresholds fire once,
  in order, as outbox effects keyed `{key}:sla:{clock id}:{threshold}:{action}`, and are
  marked fired in the clock, so a repeated, late or concurrent sweep cannot fire anything
  twice (see `integrations.db.clocks` for the locks). It reads each clock's thresholds off
  the `schedule` that `sync_clocks` stored with it (`derived_columns`), which is stamped
  with a digest of what the calendar's arithmetic rests on (its definition in the rules, the
  `holidays` release, the zone's tz data: `CalendarBook.basis`); a schedule whose
  digest or thresholds no longer match the rules (or a clock from before schedules) is
  worked out again from the calendar and stored. `sweep_due` runs batches, each in its
  own transaction, until nothing is due; `redrive_stalled` re-triggers `advance` for
  requests whose events nobody applied.
- `clock_lines` and `explain_request` describe the clocks for people.

Choices where the brief left room:
- A clock belongs to (stage, team, round); `round` is the sign-off round the stage belongs
  to (expert review before the first sign-off is round 0). An expert review after "changes
  requested" is a new clock with the full target; a NEEDS_INFO pause keeps the clock.
- The Jira due date is the local date (on the team's calendar) of the earliest due time
  among *running* clocks, and is cleared while none runs (NEEDS_INFO, terminal stages).
- `bump_priority` raises the Jira priority one step above the request's priority as routed;
  the ledger's priority (and so every SLA target) stays as routed.
- `channel_post` posts in the team's own channel (`SLACK_POST`), mentioning its roster:
  the request's thread usually lives in another team's channel.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.rules import (
    PRIORITIES,
    EscalationAction,
    EscalationStep,
    Priority,
    Route,
    Rules,
    SlaPolicy,
)
from domain.calendar import BusinessCalendar
from domain.duration import format_duration
from domain.entitlement import eligible_roster, team_label
from domain.lifecycle import RequestState
from domain.notices import (
    Cancelled,
    InfoReceived,
    InfoRequested,
    Notice,
    SlaThresholdReached,
    StageChanged,
    TeamSignedOff,
)
from domain.people import Person
from domain.signoff import Decision, decision_for
from domain.sla import (
    BREACH,
    Schedule,
    SlaClock,
    SlaState,
    counted_time,
    due_at,
    explain,
    mark_fired,
    pause,
    policy_thresholds,
    resume,
    scheduled_due,
    scheduled_next,
    start_clock,
    state,
    stop,
    target_time,
    threshold_schedule,
)
from domain.sla_words import sla_headline, step_label, wall_clock
from domain.stages import STAGES, TIMED_STAGES, Stage
from integrations.db.audit import NewAudit, append_audits, record_audit
from integrations.db.clocks import (
    PAUSED,
    RUNNING,
    STOPPED,
    ClockUpdate,
    DueClock,
    NewClock,
    clocks_of,
    insert_clock,
    save_clocks,
    select_due,
    slack_ids_by_email,
)
from integrations.db.events import requests_with_unprocessed_events
from integrations.db.models import AuditRow, RequestRow, SlaClockRow
from integrations.db.outbox import NewEffect, enqueue_effect, enqueue_effects
from integrations.db.requests import find_request
from integrations.delivery import EffectKind
from integrations.jira.notices import sla_comment
from integrations.slack.notices import sla_reminder, sla_to_channel, sla_to_lead

ACTOR = "govflow"
_ZERO = timedelta(0)
# Events older than this without an `advance` run applying them mean a lost trigger.
STALLED_AFTER = timedelta(seconds=30)
# Timed stages in a sentence ("the sign-off clock"), from the stage table.
STAGE_LABELS = {stage: STAGES[stage].noun for stage in TIMED_STAGES}
STATE_LABELS = {
    SlaState.ON_TRACK: "on track",
    SlaState.AT_RISK: "at risk",
    SlaState.BREACHED: "overdue",
}
# Calendars are rebuilt only when their rules change; each caches holidays and days it has
# looked at, which is most of the cost of its arithmetic. Beside each, its basis (`basis`).
_CALENDAR_CACHE: dict[tuple[str, str], tuple[BusinessCalendar, str]] = {}
_CALENDAR_CACHE_SIZE = 64
_HOLIDAYS_VERSION = version("holidays")


# ---- calendars and policies --------------------------------------------------------------


class CalendarBook:
    """The rules' calendars as `BusinessCalendar`s, built once per distinct definition."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._found: dict[str, tuple[BusinessCalendar, str] | None] = {}

    def get(self, key: str) -> BusinessCalendar | None:
        """The calendar named `key`, or None when the rules no longer have it."""
        found = self._lookup(key)
        return found[0] if found is not None else None

    def basis(self, key: str) -> str | None:
        """A digest of all the calendar's arithmetic depends on: rules, holidays, zone data.

        A clock's stored schedule is only as good as the basis it was worked out on.
        """
        found = self._lookup(key)
        return found[1] if found is not None else None

    def _lookup(self, key: str) -> tuple[BusinessCalendar, str] | None:
        if key not in self._found:
            self._found[key] = self._build(key)
        return self._found[key]

    def _build(self, key: str) -> tuple[BusinessCalendar, str] | None:
        rules = self._rules.calendars.get(key)
        if rules is None:
            return None
        definition = rules.model_dump_json()
        cache_key = (key, definition)
        found = _CALENDAR_CACHE.get(cache_key)
        if found is None:
            if len(_CALENDAR_CACHE) >= _CALENDAR_CACHE_SIZE:
                _CALENDAR_CACHE.clear()
            calendar = BusinessCalendar.from_rules(rules, name=key)
            # A new `holidays` release may add or move public holidays, and a tz database
            # update may move a zone's offsets: either changes due times as much as the rules.
            digest = hashlib.sha256(f"{_HOLIDAYS_VERSION}\n{definition}\n".encode())
            digest.update(_zone_data(calendar.zone.key))
            found = _CALENDAR_CACHE[cache_key] = (calendar, digest.hexdigest()[:16])
        return found


def _zone_data(key: str) -> bytes:
    """The tz database file `zoneinfo` reads the zone from (the TZPATH first, then tzdata)."""
    for root in zoneinfo.TZPATH:
        path = Path(root, key)
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return b""


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


# ---- sync_clocks -------------------------------------------------------------------------


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
                clock=_dump(clock),
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
        self.lines.append(f"started {describe(self.rules, row)}, due {_when(due, plan.calendar)}")
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
        self.lines.append(
            f"no {STAGE_LABELS.get(want.stage, want.stage)} clock for {want.team}: {reason}"
        )

    def change(self, row: SlaClockRow, verb: str, reason: str) -> None:
        """Stop, pause or resume a clock at `now`, keeping its derived columns true."""
        clock = SlaClock.model_validate(row.clock)
        changed = {"stopped": stop, "paused": pause, "resumed": resume}[verb](clock, self.now)
        thresholds = thresholds_of(self.rules, row.sla_policy, row.team, changed)
        row.clock = _dump(changed)
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


def derived_columns(
    clock: SlaClock, book: CalendarBook, calendar_key: str, thresholds: Sequence[float]
) -> tuple[str, datetime | None, datetime | None, dict[str, Any] | None]:
    """(status, next_due_at, due_at, schedule) of a clock, as the ledger's columns hold them."""
    status = _status(clock)
    calendar, basis = book.get(calendar_key), book.basis(calendar_key)
    if calendar is None or basis is None:
        return status, None, None, None
    schedule = threshold_schedule(clock, calendar, thresholds)
    return status, scheduled_next(clock, schedule), _breach_at(schedule), _stored(schedule, basis)


def _stored(schedule: Schedule, basis: str) -> dict[str, Any]:
    """A schedule as the ledger's `schedule` column holds it."""
    at = [[f, t.isoformat() if t is not None else None] for f, t in schedule]
    return {"basis": basis, "at": at}


def _planned(
    stored: dict[str, Any] | None, basis: str, thresholds: Sequence[float]
) -> Schedule | None:
    """The stored schedule, unless it was worked out on another calendar or thresholds."""
    if stored is None or stored.get("basis") != basis:
        return None
    entries = stored.get("at") or []
    if [f for f, _ in entries] != list(thresholds):
        return None
    return tuple((f, datetime.fromisoformat(t) if t is not None else None) for f, t in entries)


def _breach_at(schedule: Schedule) -> datetime | None:
    """The due time: when the breach threshold (always in the schedule) falls due."""
    return next((t for f, t in schedule if f == BREACH), None)


def _dump(clock: SlaClock) -> dict[str, Any]:
    return clock.model_dump(mode="json")


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


# ---- the watchdog ------------------------------------------------------------------------


@dataclass
class WatchdogReport:
    """What one or more sweeps did."""

    selected: int = 0
    fired: int = 0
    warnings: int = 0
    breaches: int = 0
    effects: int = 0
    keys: list[str] = field(default_factory=list)
    # `keys` without repeats, in first-seen order: a set beside the list, because a search of
    # the list per key made a thousand-clock sweep (and 100 batches of them) quadratic.
    _seen: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._seen.update(self.keys)

    def note(self, key: str) -> None:
        """Name a request whose clocks fired, once."""
        if key not in self._seen:
            self._seen.add(key)
            self.keys.append(key)

    def add(self, other: WatchdogReport) -> None:
        """Fold another sweep's counts into this one."""
        self.selected += other.selected
        self.fired += other.fired
        self.warnings += other.warnings
        self.breaches += other.breaches
        self.effects += other.effects
        for key in other.keys:
            self.note(key)


def fire_due(session: Session, rules: Rules, now: datetime, limit: int = 1000) -> WatchdogReport:
    """Fire every threshold due by `now` on up to `limit` due clocks; see the module docstring.

    Reads the due clocks with one statement and writes effects, audit records and clocks with
    one each, so the cost follows the number of clocks due.
    """
    report = WatchdogReport()
    due = select_due(session, now, limit)
    report.selected = len(due)
    if not due:
        return report
    sweep = _Sweep(session=session, rules=rules, now=now, book=CalendarBook(rules))
    for item in due:
        sweep.look_at(item, report)
    report.effects = enqueue_effects(session, sweep.effects, now)
    append_audits(session, sweep.audits, now)
    save_clocks(session, sweep.updates, now)
    return report


def sweep_due(
    sessions: sessionmaker[Session],
    rules: Rules,
    now: datetime,
    *,
    limit: int = 1000,
    max_batches: int = 100,
) -> WatchdogReport:
    """Fire everything due by `now`, `limit` clocks per transaction, up to `max_batches`.

    Short transactions keep the row locks brief. Every clock a batch looks at leaves with
    `next_due_at` past `now` (or NULL), so batches make progress; the cap bounds one sweep
    after a long outage, and the next sweep carries on where it stopped.
    """
    report = WatchdogReport()
    for _ in range(max_batches):
        with sessions.begin() as session:
            batch = fire_due(session, rules, now, limit)
        report.add(batch)
        if batch.selected < limit:  # that was the last of them
            break
    return report


def redrive_stalled(
    sessions: sessionmaker[Session],
    now: datetime,
    trigger: Callable[[int], object],
    *,
    stalled_after: timedelta = STALLED_AFTER,
    limit: int = 500,
) -> list[int]:
    """Trigger `advance` again for requests whose events wait longer than `stalled_after`.

    A lost trigger (a crash between recording an event and starting its run) would otherwise
    leave the request waiting forever (DESIGN decision 2); `advance` is safe to run twice.
    """
    with sessions.begin() as session:
        stalled = requests_with_unprocessed_events(
            session, received_before=now - stalled_after, limit=limit
        )
    for request_id in stalled:
        trigger(request_id)
    return stalled


@dataclass(frozen=True)
class _Chain:
    """A (policy, team)'s thresholds and the escalation steps at each."""

    thresholds: tuple[float, ...]
    steps: dict[float, list[EscalationStep]]


@dataclass
class _Sweep:
    """One `fire_due` call: what it will write, gathered for bulk statements.

    Escalation chains are worked out once per (policy, team) per sweep, not once per clock:
    a sweep may look at a thousand clocks.
    """

    session: Session
    rules: Rules
    now: datetime
    book: CalendarBook
    effects: list[NewEffect] = field(default_factory=list)
    audits: list[NewAudit] = field(default_factory=list)
    updates: list[ClockUpdate] = field(default_factory=list)
    _chains: dict[tuple[str, str], _Chain] = field(default_factory=dict)
    _emails: dict[str, str] | None = None

    def look_at(self, item: DueClock, report: WatchdogReport) -> None:
        """Fire what is due on one clock and recompute when to look at it next."""
        clock = SlaClock.model_validate_json(item.clock)
        calendar = self.book.get(item.calendar)
        if calendar is None:
            # Without its calendar nobody can say when it is due; stop watching rather than
            # select it again on every sweep, and say why.
            reason = f"calendar {item.calendar!r} is not in the rules"
            detail = {"clock_id": item.id}
            self.audits.append(NewAudit(item.request_id, ACTOR, "sla_unwatched", reason, detail))
            update = ClockUpdate(item.id, _dump(clock), _status(clock), None, None, None)
            self.updates.append(update)
            return
        chain = self.chain(item.sla_policy, item.team, clock)
        basis = self.book.basis(item.calendar)
        assert basis is not None  # the calendar is there, so is its basis
        stored = None  # keep the stored schedule, unless it has to be worked out again
        schedule = _planned(item.schedule, basis, chain.thresholds)
        if schedule is None:
            # Not worked out yet (a clock from before migration 0005), or the rules changed the
            # clock's calendar or thresholds since: work it out now, and keep it for next time.
            schedule = threshold_schedule(clock, calendar, chain.thresholds)
            stored = _stored(schedule, basis)
        fired = scheduled_due(clock, schedule, self.now)
        due = _breach_at(schedule)
        if fired:
            report.note(item.jira_key)
            for fraction in fired:
                notice = SlaThresholdReached(
                    jira_key=item.jira_key,
                    team=item.team,
                    stage=Stage(item.stage),
                    round=item.round,
                    target=str(clock.target),
                    fraction=fraction,
                    due=calendar.local(due) if due is not None else None,
                )
                self.fire(item, chain.steps.get(fraction, []), notice, due, report)
            clock = mark_fired(clock, fired)
        next_due = scheduled_next(clock, schedule)
        self.updates.append(
            ClockUpdate(item.id, _dump(clock), _status(clock), next_due, due, stored)
        )

    def chain(self, policy_key: str, team: str, clock: SlaClock) -> _Chain:
        """The escalation chain of a clock, from the rules as they are now."""
        known = self._chains.get((policy_key, team))
        if known is not None:
            return known
        policy = self.rules.sla_policies.get(policy_key)
        steps: dict[float, list[EscalationStep]] = {}
        for step in escalation_steps(self.rules, policy, team):
            steps.setdefault(step.at, []).append(step)
        chain = _Chain(thresholds_of(self.rules, policy_key, team, clock), steps)
        if policy is not None:  # otherwise it depends on the clock's own warn_at
            self._chains[(policy_key, team)] = chain
        return chain

    def fire(
        self,
        item: DueClock,
        steps: list[EscalationStep],
        notice: SlaThresholdReached,
        due: datetime | None,
        report: WatchdogReport,
    ) -> None:
        """One threshold of one clock: its audit record and its escalation effects."""
        breach, fraction = notice.breached, notice.fraction
        report.fired += 1
        if breach:
            report.breaches += 1
        else:
            report.warnings += 1
        self.audits.append(
            NewAudit(
                item.request_id,
                ACTOR,
                "sla_breach" if breach else "sla_warning",
                sla_headline(notice, self.rules),
                {
                    "clock_id": item.id,
                    "stage": item.stage,
                    "team": item.team,
                    "round": item.round,
                    "threshold": fraction,
                    "due_at": due.isoformat() if due else None,
                    "actions": [a.value for s in steps for a in s.actions],
                },
            )
        )
        prefix = f"{item.jira_key}:sla:{item.id}:{fraction:g}"
        for step in steps:
            for action in step.actions:
                self.act(item, notice, step, action, f"{prefix}:{action.value}")

    def act(
        self,
        item: DueClock,
        notice: SlaThresholdReached,
        step: EscalationStep,
        action: EscalationAction,
        key: str,
    ) -> None:
        """Queue the effects of one escalation action."""

        def effect(kind: str, payload: dict[str, Any], suffix: str = "") -> None:
            self.effects.append(NewEffect(item.request_id, kind, payload, key + suffix))

        team = self.rules.teams.get(item.team)
        match action:
            case EscalationAction.REMIND_ASSIGNEE:
                who = self.who(_people_to_remind(self.rules, item))
                text = sla_reminder(notice, self.rules, who)
                effect(EffectKind.SLACK_REPLY, {"text": text})
            case EscalationAction.DM_LEAD:
                for lead in team.leads if team is not None else []:
                    user = self.slack_id(lead)
                    if user is not None:
                        text = sla_to_lead(notice, self.rules)
                        effect(EffectKind.SLACK_DM, {"user": user, "text": text}, f":{lead}")
            case EscalationAction.CHANNEL_POST:
                if team is not None:
                    text = sla_to_channel(notice, self.rules, self.who(team.roster))
                    effect(EffectKind.SLACK_POST, {"channel": team.slack_channel, "text": text})
            case EscalationAction.JIRA_BREACH:
                label = step.jira_label or self.rules.jira.breach_label
                effect(EffectKind.JIRA_LABEL, {"label": label}, ":label")
                comment = sla_comment(notice, self.rules)
                effect(EffectKind.JIRA_COMMENT, {"body": comment}, ":comment")
                bumped = _bumped_priority(self.rules, item.priority) if step.bump_priority else None
                if bumped is not None:
                    fields = {"priority": {"name": bumped}}
                    effect(EffectKind.JIRA_FIELDS, {"fields": fields}, ":priority")

    def slack_id(self, entry: str) -> str | None:
        """A roster entry's Slack user id: itself, or the one cached for its email."""
        if "@" not in entry:
            return entry
        if self._emails is None:
            everyone = [e for t in self.rules.teams.values() for e in (*t.roster, *t.leads)]
            self._emails = slack_ids_by_email(self.session, [e for e in everyone if "@" in e])
        return self._emails.get(entry.casefold())

    def who(self, entries: Iterable[str]) -> list[tuple[str, str | None]]:
        """Roster entries, each with its Slack user id when known, for the renderers."""
        return [(e, self.slack_id(e)) for e in entries]


class _StateView(BaseModel):
    """What a reminder needs of a request's lifecycle state (validating all of it costs more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    requester: Person
    assignee: Person | None = None
    round: int = 0
    decisions: tuple[Decision, ...] = ()


def _people_to_remind(rules: Rules, item: DueClock) -> list[str]:
    """Who a reminder is for: the assignee, else whoever of the team has yet to act."""
    state = _state_of(item)
    team = rules.teams.get(item.team)
    roster = list(team.roster) if team is not None else []
    if state is None:
        return [item.assignee] if item.assignee else roster
    if item.stage == Stage.SIGN_OFF:
        eligible = eligible_roster(rules, item.team, state.requester)
        decided = [d for d in state.decisions if d.round == state.round]
        return [e for e in eligible if decision_for(e, item.team, eligible, decided) is None]
    if state.assignee is not None:
        person = state.assignee
        return [person.slack_id or person.email or person.label]
    return roster


def _state_of(item: DueClock) -> _StateView | None:
    if item.state is None:
        return None
    try:
        return _StateView.model_validate_json(item.state)
    except ValidationError:
        # A state written by an older schema: remind the team rather than nobody.
        return None


def _bumped_priority(rules: Rules, priority: str) -> str | None:
    """The Jira priority name one step above `priority`, or None at the top."""
    if priority not in PRIORITIES or priority == PRIORITIES[0]:
        return None
    higher = PRIORITIES[PRIORITIES.index(priority) - 1]
    return next((name for name, p in rules.jira.priority_mapping.items() if p == higher), None)


def _status(clock: SlaClock) -> str:
    return STOPPED if clock.stopped_at else PAUSED if clock.paused_since else RUNNING


# ---- describing clocks -------------------------------------------------------------------


def describe(rules: Rules, row: SlaClockRow) -> str:
    """A clock's name for people, e.g. "Quality Assurance sign-off clock (round 1)"."""
    stage = STAGE_LABELS.get(Stage(row.stage), row.stage)
    round_text = f" (round {row.round})" if row.stage == Stage.SIGN_OFF else ""
    return f"{team_label(rules, row.team)} {stage} clock{round_text}"


def clock_lines(session: Session, request_id: int, rules: Rules, now: datetime) -> list[str]:
    """One short line per running or paused clock, for the Slack root card.

    e.g. "Quality Assurance sign-off due Tue 3 Dec 17:00 UTC+8 · at risk".
    """
    book = CalendarBook(rules)
    lines = []
    for row in clocks_of(session, request_id):
        if row.status == STOPPED:
            continue
        clock = SlaClock.model_validate(row.clock)
        calendar = book.get(row.calendar)
        step = step_label(rules, row.team, row.stage)
        if calendar is None:
            lines.append(f"{step} · calendar {row.calendar} missing from the rules")
        elif row.status == PAUSED:
            left = max(target_time(clock, calendar) - counted_time(clock, calendar, now), _ZERO)
            lines.append(f"{step} paused · {format_duration(left)} of {clock.target} left")
        else:
            where = STATE_LABELS.get(state(clock, calendar, now), "")
            lines.append(f"{step} due {_when(due_at(clock, calendar), calendar)} · {where}")
    return lines


def explain_request(
    session: Session, jira_key: str, rules: Rules, now: datetime
) -> list[str] | None:
    """`govflow sla explain KEY`: one text block per clock of the request; None if unknown."""
    request = find_request(session, jira_key)
    if request is None:
        return None
    book = CalendarBook(rules)
    blocks = []
    for row in clocks_of(session, request.id):
        clock = SlaClock.model_validate(row.clock)
        calendar = book.get(row.calendar)
        fired = ", ".join(f"{f:.0%}" for f in clock.fired) or "none yet"
        head = (
            f"#{row.id} {describe(rules, row)}: {row.status}, policy {row.sla_policy}, "
            f"thresholds fired: {fired}"
        )
        if calendar is None:
            blocks.append(f"{head}\n  calendar {row.calendar!r} is no longer in the rules")
            continue
        blocks.append(f"{head}\n{explain(clock, calendar, now).render()}")
    return blocks


def wall_clock_text(t: datetime, calendar: BusinessCalendar) -> str:
    """An instant on a team's wall clock, as cards and the board say it: "Tue 3 Dec 17:00 UTC+8"."""
    return wall_clock(calendar.local(t))


def _when(t: datetime | None, calendar: BusinessCalendar | None) -> str:
    """An instant on the team's wall clock, e.g. "Tue 3 Dec 17:00 UTC+8"."""
    if t is None:
        return "not known while paused"
    if calendar is not None:
        return wall_clock(calendar.local(t))
    return wall_clock(t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC))
