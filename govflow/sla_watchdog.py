"""The SLA watchdog's use cases: fire due clock thresholds, re-drive stalled requests.

- `fire_due` is one batch of the watchdog's sweep: every due clock's thresholds fire once,
  in order, as outbox effects keyed `{key}:sla:{clock id}:{threshold}:{action}`, and are
  marked fired in the clock, so a repeated, late or concurrent sweep cannot fire anything
  twice (see `integrations.db.clocks` for the locks). Each threshold is a
  `SlaThresholdReached` notice, worded for its audience by the Slack and Jira renderers
  (and `domain.sla_words` for the audit trail). Given a session, it never commits it.
- `sweep_due` runs batches, each in its own transaction, until nothing is due;
  `redrive_stalled` re-triggers `advance` for requests whose events nobody applied.

Choices where the brief left room:
- `bump_priority` raises the Jira priority one step above the request's priority as routed;
  the ledger's priority (and so every SLA target) stays as routed.
- `channel_post` posts in the team's own channel (`SLACK_POST`), mentioning its roster:
  the request's thread usually lives in another team's channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from domain.entitlement import eligible_roster
from domain.notices import SlaThresholdReached
from domain.people import Person
from domain.rules import PRIORITIES, EscalationAction, EscalationStep, Rules
from domain.signoff import Decision, decision_for
from domain.sla import SlaClock, mark_fired, scheduled_due, scheduled_next, threshold_schedule
from domain.sla_words import sla_headline
from domain.stages import Stage
from govflow.clock_schedules import (
    ACTOR,
    breach_at,
    clock_status,
    dump_clock,
    escalation_steps,
    planned_schedule,
    stored_schedule,
    thresholds_of,
)
from integrations.calendars import CalendarBook
from integrations.db.audit import NewAudit, append_audits
from integrations.db.clocks import (
    ClockUpdate,
    DueClock,
    save_clocks,
    select_due,
    slack_ids_by_email,
)
from integrations.db.events import requests_with_unprocessed_events
from integrations.db.outbox import NewEffect, enqueue_effects
from integrations.delivery import EffectKind
from integrations.jira.notices import sla_comment
from integrations.slack.notices import sla_reminder, sla_to_channel, sla_to_lead

# Events older than this without an `advance` run applying them mean a lost trigger.
STALLED_AFTER = timedelta(seconds=30)


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
            update = ClockUpdate(item.id, dump_clock(clock), clock_status(clock), None, None, None)
            self.updates.append(update)
            return
        chain = self.chain(item.sla_policy, item.team, clock)
        basis = self.book.basis(item.calendar)
        assert basis is not None  # the calendar is there, so is its basis
        stored = None  # keep the stored schedule, unless it has to be worked out again
        schedule = planned_schedule(item.schedule, basis, chain.thresholds)
        if schedule is None:
            # Not worked out yet (a clock from before migration 0005), or the rules changed the
            # clock's calendar or thresholds since: work it out now, and keep it for next time.
            schedule = threshold_schedule(clock, calendar, chain.thresholds)
            stored = stored_schedule(schedule, basis)
        fired = scheduled_due(clock, schedule, self.now)
        due = breach_at(schedule)
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
            ClockUpdate(item.id, dump_clock(clock), clock_status(clock), next_due, due, stored)
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
