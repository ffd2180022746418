"""One request's journey in people's words: who did what and why, and how long each wait was.

Built from the audit trail, from intake on. Each step names the person (by name where any
record of the request knows it: the state's requester, assignee and approvers, the notices'
people; else the email the ledger has for a Slack id; else the identifier) and says what they
did in the cards' words, with the reason given. Internal receipts (webhooks received, events
queued, effects delivered, clock bookkeeping) stay in the audit table.

The wait before each step is split into working time, off-hours and paused time:
- paused: the request waited on the requester (NEEDS_INFO), whatever the hour;
- otherwise working time on the calendar of the team whose move it was (the team of the step
  that ended the wait when it has one, e.g. QA's approval; else the stage's team: the
  experts, the SOP owner), and off-hours the rest (nights, weekends, public holidays).
Times are shown on the expert team's wall clock, which the header names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from domain.calendar import BusinessCalendar
from domain.duration import format_duration
from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.people import Person
from domain.rules import Rules
from domain.sla_words import wall_clock
from domain.stages import Stage
from integrations.calendars import CalendarBook
from integrations.db.models import AuditRow
from integrations.prefect_ui.board import age_text, cell, link
from integrations.slack.blocks import STAGE_LABELS

GOVFLOW = "govflow"
_ZERO = timedelta(0)
STEP_LIMIT = 300
VERDICTS = {"APPROVE": "Approved", "REJECT": "Rejected", "REQUEST_CHANGES": "Asked for changes"}


@dataclass(frozen=True)
class Step:
    """One thing that happened, for people."""

    at: datetime
    who: str
    what: str
    why: str = ""
    team: str | None = None
    stage_after: str | None = None  # set when the step moved the request


@dataclass(frozen=True)
class Wait:
    """The time before a step, split by what it was."""

    working: timedelta = _ZERO
    off_hours: timedelta = _ZERO
    paused: timedelta = _ZERO

    @property
    def total(self) -> timedelta:
        """All of it."""
        return self.working + self.off_hours + self.paused

    def __add__(self, other: Wait) -> Wait:
        return Wait(
            self.working + other.working,
            self.off_hours + other.off_hours,
            self.paused + other.paused,
        )

    @property
    def text(self) -> str:
        """e.g. "2h working · 14h off-hours" or "1d 3h paused"; blank under a minute."""
        parts = []
        if self.working >= timedelta(minutes=1):
            parts.append(f"{format_duration(_minutes(self.working))} working")
        if self.off_hours >= timedelta(minutes=1):
            parts.append(f"{age_text(self.off_hours)} off-hours")
        if self.paused >= timedelta(minutes=1):
            parts.append(f"{age_text(self.paused)} paused")
        return " · ".join(parts)


@dataclass
class Names:
    """Display names of the people a request's records mention, by every identifier."""

    known: dict[str, str] = field(default_factory=dict)
    emails: Mapping[str, str] = field(default_factory=dict)  # Slack id -> email (ledger)

    def learn(self, people: Iterable[Person | None]) -> None:
        """Remember the names of these people under each of their identifiers."""
        for person in people:
            if person is None or not person.name:
                continue
            for ident in (person.slack_id, person.email, person.jira_account_id):
                if ident:
                    self.known.setdefault(ident, person.name)

    def of(self, ident: str) -> str:
        """A name for an identifier: the name, else the email, else the identifier."""
        if not ident or ident == GOVFLOW:
            return GOVFLOW
        if ident in self.known:
            return self.known[ident]
        email = self.emails.get(ident)
        if email:
            return self.known.get(email, email)
        return ident

    def person(self, raw: Any) -> str:
        """A name for a person as a notice stores it (a dict), or "" if none."""
        if not isinstance(raw, dict):
            return ""
        if raw.get("name"):
            return str(raw["name"])
        for key in ("slack_id", "email", "jira_account_id"):
            if raw.get(key):
                return self.of(str(raw[key]))
        return ""


def names_for(state: RequestState | None, emails: Mapping[str, str]) -> Names:
    """Names from everyone the request's state mentions."""
    names = Names(emails=emails)
    if state is not None:
        names.learn([state.requester, state.assignee])
        names.learn(d.approver for d in state.decisions)
        names.learn(d.on_behalf_of for d in state.decisions)
        if state.question is not None:
            names.learn([state.question.asked_by])
        if state.assessment is not None:
            names.learn([state.assessment.author])
    return names


# ---- audit records -> steps --------------------------------------------------------------


def steps_of(trail: Sequence[AuditRow], rules: Rules, names: Names) -> list[Step]:
    """The steps a person cares about, oldest first."""
    found = []
    for row in trail:
        step = step_of(row, rules, names)
        if step is not None:
            found.append(step)
    return found


def step_of(row: AuditRow, rules: Rules, names: Names) -> Step | None:
    """One audit record as a step; None for internal receipts."""
    detail = row.detail or {}
    notice = detail.get("notice") if isinstance(detail.get("notice"), dict) else None
    who = names.of(row.actor)
    if notice is not None:
        return _notice_step(row, notice, rules, names, who)
    wording = _RECORDS.get(row.action)
    if wording is None:
        return None
    what, team, stage = wording(row, rules, names)
    if row.action == "request_created":
        who = names.of(str(detail.get("reporter") or row.actor))
    return Step(row.at, who, what, row.reason, team, stage)


def _record_stage_changed(row: AuditRow, rules: Rules, names: Names) -> tuple[str, None, str]:
    to = str((row.detail or {}).get("to", ""))
    return f"Moved to {_stage(to)}", None, to


def _record_routed(row: AuditRow, rules: Rules, names: Names) -> tuple[str, str | None, None]:
    team = (row.detail or {}).get("expert_team")
    to = f" to {team_label(rules, team)}" if isinstance(team, str) else ""
    return f"Routed{to}", team if isinstance(team, str) else None, None


def _fixed(what: str) -> Callable[[AuditRow, Rules, Names], tuple[str, str | None, str | None]]:
    def wording(row: AuditRow, rules: Rules, names: Names) -> tuple[str, str | None, None]:
        team = (row.detail or {}).get("team")
        return what, team if isinstance(team, str) else None, None

    return wording


_RECORDS: dict[str, Callable[[AuditRow, Rules, Names], tuple[str, str | None, str | None]]] = {
    "request_created": _fixed("Filed the request in Jira"),
    "ticket_edited": _fixed("Edited the ticket in Jira"),
    "ticket_incomplete": _fixed("Asked the requester to complete the ticket"),
    "routed": _record_routed,
    "stage_changed": _record_stage_changed,
    "quorum_unreachable": _fixed("Warned that a sign-off team cannot reach its quorum"),
    "sla_warning": _fixed("SLA warning"),
    "sla_breach": _fixed("SLA breached"),
    "event_refused": _fixed("Was refused"),
    "action_refused": _fixed("Was refused"),
    "command_refused": _fixed("Was refused"),
}


def _notice_step(
    row: AuditRow, notice: Mapping[str, Any], rules: Rules, names: Names, who: str
) -> Step | None:
    kind = notice.get("kind")
    by = names.person(notice.get("by")) or who
    why = str(notice.get("reason") or "")
    team = notice.get("team") if isinstance(notice.get("team"), str) else None
    match kind:
        case "stage_changed":
            to = str(notice.get("to_stage", ""))
            return Step(row.at, who, f"Moved to {_stage(to)}", why, None, to)
        case "claimed":
            previous = names.person(notice.get("previous"))
            what = f"Took over from {previous}" if previous else "Claimed the request"
            return Step(row.at, by, what)
        case "assessment_recorded":
            assessment = notice.get("assessment") or {}
            author = names.person(assessment.get("author")) or who
            advice = str(assessment.get("recommendation", "")).replace("_", " ").lower()
            return Step(row.at, author, f"Assessed: {advice}", str(assessment.get("rationale", "")))
        case "signoff_opened":
            teams = [team_label(rules, t.get("team", "")) for t in notice.get("teams", [])]
            return Step(
                row.at, GOVFLOW, f"Opened sign-off round {notice.get('round')}", ", ".join(teams)
            )
        case "decision_recorded":
            decision = notice.get("decision") or {}
            team = str(decision.get("team", ""))
            verdict = VERDICTS.get(str(decision.get("verdict")), str(decision.get("verdict")))
            behalf = names.person(decision.get("on_behalf_of"))
            what = f"{verdict} for {team_label(rules, team)} ({notice.get('progress', '')})"
            if behalf:
                what += f", for {behalf}"
            approver = names.person(decision.get("approver")) or who
            return Step(row.at, approver, what, str(decision.get("reason", "")), team)
        case "team_signed_off":
            return Step(row.at, GOVFLOW, f"{team_label(rules, team or '')} signed off", "", team)
        case "signoff_complete":
            return Step(row.at, GOVFLOW, "Every team signed off")
        case "rejected" if notice.get("ends_request"):
            return Step(row.at, by, "Rejected the request", why, team)
        case "info_requested":
            return Step(
                row.at, by, "Asked the requester a question", str(notice.get("question", ""))
            )
        case "info_received":
            what = "Answered; work resumes" if notice.get("resumed") else "Commented"
            return Step(row.at, by, what, str(notice.get("body", "")))
        case "cancelled":
            return Step(row.at, by, "Cancelled the request", why)
        case "draft_prepared":
            what = f"Drafted {notice.get('sop_id')} from v{notice.get('base_version')}"
            return Step(row.at, GOVFLOW, what)
        case "draft_refused":
            return Step(
                row.at,
                GOVFLOW,
                "Could not apply the proposed change",
                "; ".join(notice.get("problems", [])),
            )
        case "draft_edited":
            return Step(row.at, by, f"Edited the draft of {notice.get('sop_id')}")
        case "signoff_invalidated":
            return Step(
                row.at, GOVFLOW, f"Reopened sign-off after round {notice.get('round')}", why
            )
        case "publish_conflict":
            return Step(
                row.at,
                GOVFLOW,
                f"Publishing {notice.get('sop_id')} conflicted with "
                f"v{notice.get('current_version')}",
            )
        case "sent_back":
            return Step(row.at, by, "Sent the SOP update back to the experts", why, team)
        case "sop_published":
            what = (
                f"Published {notice.get('sop_id')} v{notice.get('version')}, "
                f"effective {notice.get('effective_date')}"
            )
            return Step(row.at, by, what)
    return None


def _stage(value: str) -> str:
    return STAGE_LABELS.get(value, value.replace("_", " ").lower())


# ---- waits -------------------------------------------------------------------------------


def waits_of(
    steps: Sequence[Step],
    state: RequestState | None,
    rules: Rules,
    book: CalendarBook,
    start_stage: str = "RECEIVED",
) -> list[Wait]:
    """The wait before each step (the first has none), split on the right team's calendar."""
    if not steps:
        return []
    waits = [Wait()]
    stage = start_stage
    for before, step in pairwise(steps):
        stage = before.stage_after or stage
        waits.append(_wait(before.at, step.at, stage, step.team, state, rules, book))
    return waits


def _wait(
    begin: datetime,
    end: datetime,
    stage: str,
    team: str | None,
    state: RequestState | None,
    rules: Rules,
    book: CalendarBook,
) -> Wait:
    span = max(end - begin, _ZERO)
    if span == _ZERO:
        return Wait()
    if stage == Stage.NEEDS_INFO:
        return Wait(paused=span)
    calendar = _calendar(team or _stage_team(stage, state), rules, book)
    if calendar is None:
        return Wait(working=span)  # no calendar to split it on: say all of it
    working = calendar.business_time_between(begin, end)
    return Wait(working=working, off_hours=span - working)


def _stage_team(stage: str, state: RequestState | None) -> str | None:
    if state is None:
        return None
    if stage == Stage.SOP_UPDATE:
        return state.owner_team
    return state.expert_team


def _calendar(team: str | None, rules: Rules, book: CalendarBook) -> BusinessCalendar | None:
    found = rules.teams.get(team) if team else None
    return book.get(found.calendar) if found is not None else None


def _minutes(value: timedelta) -> timedelta:
    return timedelta(minutes=value // timedelta(minutes=1))


# ---- markdown ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """Where else the request lives."""

    jira: str = ""
    thread: str = ""
    runs: tuple[tuple[str, str], ...] = ()  # (run name, UI URL), newest first


def journey_markdown(
    *,
    key: str,
    summary: str,
    stage: str,
    held_by: str,
    steps: Sequence[Step],
    waits: Sequence[Wait],
    links: Links,
    calendar: BusinessCalendar | None,
    now: datetime,
    created_at: datetime | None,
) -> str:
    """The journey as a markdown page for the Prefect UI."""
    total = sum(waits, Wait())
    head = [f"# {cell(key)} · {cell(_stage(stage))}", "", cell(summary, 300), ""]
    where = [link("Jira ticket", links.jira) if links.jira else ""]
    where.append(link("Slack thread", links.thread) if links.thread else "")
    head.append(" · ".join(w for w in where if w))
    facts = []
    if held_by:
        facts.append(f"**Held by** {cell(held_by)}")
    if created_at is not None:
        facts.append(f"**Open for** {age_text(now - created_at)}")
    if total.text:
        facts.append(f"**Waited** {total.text}")
    head += ["", " · ".join(facts), ""]
    zone = _zone_label(calendar, now)
    head += [f"| when ({zone}) | who | what | why | wait before |", "|---|---|---|---|---|"]
    shown = list(zip(steps, waits, strict=True))[-STEP_LIMIT:]
    if len(steps) > len(shown):
        head.append(f"| | | ({len(steps) - len(shown)} earlier steps) | | |")
    for step, wait in shown:
        when = wall_clock(calendar.local(step.at)) if calendar else f"{step.at:%a %d %b %H:%M} UTC"
        head.append(
            f"| {when} | {cell(step.who)} | {cell(step.what)} | {cell(step.why, 120)} | "
            f"{wait.text} |"
        )
    if links.runs:
        head += ["", "**Prefect runs**: " + " · ".join(link(n, u) for n, u in links.runs)]
    return "\n".join(head) + "\n"


def _zone_label(calendar: BusinessCalendar | None, now: datetime) -> str:
    if calendar is None:
        return "UTC"
    return calendar.zone.key
