"""Training cases of published SOP versions: posting, attesting, reminding, reporting.

- `training_case_posts`: when a version is published (the advance step that queues its
  announcement), the case is built from the request's draft and assessment, kept in the
  ledger once per version, and posted in the training channels with the announcement.
- `TrainingDesk`: a click on a training message. Only members of the configured teams'
  rosters may answer or attest; an answer counts once per person and question (the first),
  an attestation once per person and version, and only after every check question is
  answered. Double clicks and replayed deliveries record nothing twice and say so.
- `remind_attesters`: each intake pass queues a direct message to every person who has not
  attested, while their team's calendar is in working hours and the effective date is
  within `remind_before`; once a day per person (the outbox key carries the team calendar's
  local date), and never after they attest.
- `attestation_report`: who has attested, with their check score, for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain.calendar import BusinessCalendar
from domain.duration import parse_duration
from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.notices import SopPublished
from domain.people import Person, is_email, roster_member
from domain.rules import Rules
from domain.training import (
    TrainingCase,
    build_training_case,
    grade,
    people_to_attest,
    reminder_due,
)
from integrations.db.audit import record_audit
from integrations.db.clocks import slack_ids_by_email
from integrations.db.models import RequestRow
from integrations.db.outbox import enqueue_effect
from integrations.db.training import (
    StoredCase,
    answers_of,
    attestations_of,
    find_case,
    open_cases,
    record_answer,
    record_attestation,
    save_case,
)
from integrations.delivery import EffectKind
from integrations.slack.sop_update_card import render_sop_update_card, sop_update_view
from integrations.slack.training import (
    ANSWER,
    TrainingClick,
    render_reminder,
    render_training_card,
)

ACTOR = "govflow"


@dataclass(frozen=True)
class TrainingPost:
    """One Slack message showing a training case in one channel, with its outbox key suffix."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    suffix: str


def training_case_posts(
    session: Session,
    rules: Rules,
    row: RequestRow,
    state: RequestState,
    notice: SopPublished,
    now: datetime,
    issue_url: Callable[[str], str],
) -> list[TrainingPost]:
    """Keep the published version's training case; the posts that show it in its channels."""
    training = rules.sops.training
    draft = state.draft(notice.sop_id)
    if training is None or draft is None:
        return []
    assessment = state.assessment
    case = build_training_case(
        sop_id=notice.sop_id,
        version=notice.version,
        based_on_version=notice.based_on_version,
        effective_date=notice.effective_date,
        jira_key=row.jira_key,
        summary=row.summary,
        base_text=draft.base_text,
        new_text=draft.text,
        rationale=assessment.rationale if assessment else "",
        passes_example=assessment.example_passes if assessment else "",
        fails_example=assessment.example_fails if assessment else "",
    )
    teams = list(training.attest_teams)
    save_case(session, case, request_id=row.id, teams=teams, now=now)
    # A replayed step posts the case the ledger kept first, not a rebuilt one.
    kept = find_case(session, case.sop_id, case.version)
    shown = kept.case if kept is not None else case
    text, blocks = render_training_card(
        shown,
        jira_url=issue_url(row.jira_key),
        teams=[team_label(rules, t) for t in teams],
        progress=(0, len(_people(rules, teams))),
    )
    return [
        TrainingPost(channel, text, blocks, _card_suffix(shown, channel))
        for channel in training_channels(rules)
    ]


def training_channels(rules: Rules) -> list[str]:
    """Where training cases are posted: their own channels, else the announcement channels."""
    training = rules.sops.training
    if training is None:
        return []
    return list(training.channels or rules.sops.announce_channels)


@dataclass
class TrainingDesk:
    """Records clicks on training messages; answers each with a sentence for the clicker."""

    sessions: sessionmaker[Session]
    rules: Rules
    issue_url: Callable[[str], str]

    def __call__(self, click: TrainingClick, person: Person, now: datetime) -> str:
        """Record the click under one transaction; what to tell the clicker."""
        with self.sessions.begin() as session:
            return handle_click(session, self.rules, click, person, now, self.issue_url)


def handle_click(
    session: Session,
    rules: Rules,
    click: TrainingClick,
    person: Person,
    now: datetime,
    issue_url: Callable[[str], str],
) -> str:
    """Record an answer or an attestation, once; what to tell the clicker."""
    ref = f"{click.sop_id} v{click.version}"
    stored = find_case(session, click.sop_id, click.version)
    if stored is None:
        return f"There is no training case for {ref}."
    member = _member(rules, stored.teams, person)
    if member is None:
        names = ", ".join(team_label(rules, t) for t in stored.teams)
        return f"Only members of {names} attest to {ref}; you are on none of their rosters."
    team, entry = member
    case = stored.case
    if click.action == ANSWER:
        return _answer(session, case, entry, click, now)
    answered = answers_of(session, case.sop_id, case.version, entry)
    missing = [q.id for q in case.check if q.id not in answered]
    if missing:
        return f"Answer the check first ({', '.join(missing)} left), then attest."
    right, total = grade(case, answered)
    new = record_attestation(
        session,
        sop_id=case.sop_id,
        version=case.version,
        person=entry,
        team=team,
        correct=right,
        questions=total,
        now=now,
    )
    if not new:
        return f"You have already attested to {ref}; nothing more to do."
    record_audit(
        session,
        at=now,
        actor=person.slack_id or entry,
        action="training_attested",
        request_id=stored.request_id,
        detail={"sop_id": case.sop_id, "version": case.version, "team": team, "right": right},
    )
    _show_progress(session, rules, stored, now, issue_url)
    score = f" You got {right} of {total} of the check right." if total else ""
    return f"Thank you: your attestation of {ref} is recorded.{score}"


def _answer(
    session: Session, case: TrainingCase, entry: str, click: TrainingClick, now: datetime
) -> str:
    question = next((q for q in case.check if q.id == click.question), None)
    if question is None or click.answer is None:
        return f"The check of {case.sop_id} v{case.version} has no question {click.question}."
    new = record_answer(
        session,
        sop_id=case.sop_id,
        version=case.version,
        person=entry,
        question=question.id,
        answer=click.answer,
        correct=click.answer is question.passes,
        now=now,
    )
    said = "passes" if click.answer else "fails"
    if not new:
        first = answers_of(session, case.sop_id, case.version, entry).get(question.id)
        kept = "passes" if first else "fails"
        return f"You answered {question.id} already ({kept}); the first answer counts."
    truth = "passes" if question.passes else "fails"
    right = click.answer is question.passes
    verdict = "That is right." if right else f"Under v{case.version} it {truth}."
    return f"Recorded for {question.id}: {said}. {verdict}"


def _show_progress(
    session: Session,
    rules: Rules,
    stored: StoredCase,
    now: datetime,
    issue_url: Callable[[str], str],
) -> None:
    """Update the training messages with how many have attested (newest count wins)."""
    case = stored.case
    if stored.request_id is None:
        return
    done = len(attestations_of(session, case.sop_id, case.version))
    text, blocks = render_training_card(
        case,
        jira_url=issue_url(case.jira_key),
        teams=[team_label(rules, t) for t in stored.teams],
        progress=(done, len(_people(rules, stored.teams))),
    )
    for channel in training_channels(rules):
        card = f"{case.jira_key}:{_card_suffix(case, channel)}"
        enqueue_effect(
            session,
            request_id=stored.request_id,
            kind=EffectKind.SLACK_CARD_UPDATE,
            payload={"card": card, "text": text, "blocks": blocks},
            idempotency_key=f"{card}:progress:{done}",
            now=now,
        )
    _show_on_owner_card(session, rules, stored, done, issue_url, now)


def _show_on_owner_card(
    session: Session,
    rules: Rules,
    stored: StoredCase,
    done: int,
    issue_url: Callable[[str], str],
    now: datetime,
) -> None:
    """The SOP owner's update card of the publishing request also shows the progress."""
    row = session.get(RequestRow, stored.request_id)
    card = (row.facts or {}).get("sop_update_card") if row is not None else None
    if row is None or row.state is None or card is None:
        return
    state = RequestState.model_validate(row.state)
    view = sop_update_view(
        state,
        rules,
        summary=row.summary,
        jira_url=issue_url(row.jira_key),
        thread_url=str(row.facts.get("thread_url", "")),
        round=int(row.facts.get("sop_update_round", state.round)),
    )
    lines = []
    for published in state.published:
        kept = find_case(session, published.sop_id, published.version)
        if kept is None:
            continue
        total = len(_people(rules, kept.teams))
        count = len(attestations_of(session, published.sop_id, published.version))
        lines.append(
            f"Training {published.sop_id} v{published.version}: {count} of {total} attested "
            f"before {published.effective_date.isoformat()}"
        )
    text, blocks = render_sop_update_card(replace(view, attestation=lines))
    case = stored.case
    enqueue_effect(
        session,
        request_id=row.id,
        kind=EffectKind.SLACK_CARD_UPDATE,
        payload={"card": str(card), "text": text, "blocks": blocks},
        idempotency_key=f"{card}:attested:{case.sop_id}:{case.version}:{done}",
        now=now,
    )


def remind_attesters(session: Session, rules: Rules, now: datetime) -> int:
    """Queue today's reminders to everyone who has not attested to an open case; how many."""
    training = rules.sops.training
    if training is None:
        return 0
    queued = 0
    for stored in open_cases(session, now.date()):
        if stored.request_id is None:
            continue
        case = stored.case
        attested = attestations_of(session, case.sop_id, case.version)
        for team, entry in _people(rules, stored.teams):
            if entry in attested:
                continue
            calendar = _calendar(rules, team)
            lead = parse_duration(training.remind_before).working_time(calendar.day_length)
            if not reminder_due(calendar, case.effective_date, lead, now):
                continue
            slack_id = _slack_id(session, entry)
            if slack_id is None:
                continue
            where = ", ".join(f"<#{c}>" for c in training_channels(rules))
            text, blocks = render_reminder(case, where=where or "the training channel")
            day = calendar.local(now).date().isoformat()
            queued += enqueue_effect(
                session,
                request_id=stored.request_id,
                kind=EffectKind.SLACK_DM,
                payload={"user": slack_id, "text": text, "blocks": blocks},
                idempotency_key=(
                    f"{case.jira_key}:training-remind:{case.sop_id}:{case.version}:{entry}:{day}"
                ),
                now=now,
            )
    return queued


@dataclass(frozen=True)
class AttestationLine:
    """One person's line in the attestation report."""

    team: str
    person: str
    attested_at: datetime | None
    correct: int | None
    questions: int


def attestation_report(
    session: Session, rules: Rules, sop_id: str, version: int | None = None
) -> tuple[TrainingCase, list[AttestationLine]] | None:
    """Everyone who must attest to the version (default: latest with a case), and how far."""
    stored = find_case(session, sop_id, version)
    if stored is None:
        return None
    case = stored.case
    attested = attestations_of(session, case.sop_id, case.version)
    lines = []
    people = _people(rules, stored.teams)
    for team, entry in people:
        done = attested.get(entry)
        lines.append(
            AttestationLine(
                team=team,
                person=entry,
                attested_at=done.attested_at if done else None,
                correct=done.correct if done else None,
                questions=len(case.check),
            )
        )
    # People who attested and have since left the roster stay on the record.
    listed = {entry for _, entry in people}
    for entry, done in attested.items():
        if entry not in listed:
            lines.append(
                AttestationLine(done.team, entry, done.attested_at, done.correct, done.questions)
            )
    return case, lines


def _people(rules: Rules, teams: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    return people_to_attest({t: rules.teams[t].roster for t in teams if t in rules.teams})


def _member(rules: Rules, teams: tuple[str, ...], person: Person) -> tuple[str, str] | None:
    """The (team, roster entry) under which `person` attests, if they do."""
    for team in teams:
        found = rules.teams.get(team)
        entry = roster_member(person, found.roster) if found is not None else None
        if entry is not None:
            return team, entry
    return None


def _calendar(rules: Rules, team: str) -> BusinessCalendar:
    name = rules.teams[team].calendar
    return BusinessCalendar.from_rules(rules.calendars[name], name=name)


def _slack_id(session: Session, entry: str) -> str | None:
    if not is_email(entry):
        return entry
    return slack_ids_by_email(session, [entry]).get(entry)


def _card_suffix(case: TrainingCase, channel: str) -> str:
    return f"training:{case.sop_id}:{case.version}:{channel}"
