"""Advancing one request: apply its unprocessed events in order, under its row lock.

Safe to run twice (an applied event is marked processed in the same transaction) and never
waits for a human: an event that is not allowed is refused, audited and marked processed.

The SOP registry is read here and handed to the pure lifecycle as values: the latest version
of each affected SOP when an assessment is applied (to build the drafts), and, for a
publication, the latest versions read after locking those SOPs' rows, so that what the
lifecycle decides (publish, rebase, conflict) still holds when the versions are written in
the same transaction. A publication the registry refuses is rolled back to its savepoint
and the event refused, never half-done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from domain.errors import InvalidTransition, LedgerError, NotEntitled, UnknownSop
from domain.lifecycle import EVENTS, Event, PublishSop, RequestState, SubmitAssessment, apply
from domain.notices import Notice, RequesterMatched, SopPublished, StageChanged
from domain.rules import Rules
from domain.sop import SopVersion
from govflow.delegation_sources import known_delegations
from govflow.effects import EffectContext, EffectWriter
from govflow.intake import warn_unreachable
from integrations.db.audit import record_audit
from integrations.db.events import unprocessed_events
from integrations.db.models import EventRow, RequestRow
from integrations.db.requests import lock_request_by_id
from integrations.db.sops import latest_versions, lock_sops, publish_version

ACTOR = "govflow"


@dataclass
class AdvanceSummary:
    """What one advance did to one request."""

    jira_key: str
    stage_before: str
    stage_after: str
    applied: int = 0
    refused: int = 0
    holder: str | None = None
    notices: list[str] = field(default_factory=list)


def advance_request(
    session: Session, request_id: int, context: EffectContext, now: datetime
) -> AdvanceSummary:
    """Apply every unprocessed event of the request in arrival order; queue what follows."""
    row = lock_request_by_id(session, request_id)
    summary = AdvanceSummary(jira_key=row.jira_key, stage_before=row.stage, stage_after=row.stage)
    events = unprocessed_events(session, request_id)
    if not events:
        return summary
    if row.state is None:
        for unrouted in events:
            _refuse(session, row, unrouted, "the request has not been routed yet", now)
            summary.refused += 1
        return summary
    state = RequestState.model_validate(row.state)
    delegations = known_delegations(session, context.rules, now.date())
    context = EffectContext(
        rules=context.rules, jira_browse_url=context.jira_browse_url, delegations=delegations
    )
    writer = EffectWriter(session, row, context, now)
    changed = False
    for event_row in events:
        try:
            event = EVENTS.validate_python(event_row.payload)
            sops = _registry_for(session, state, event)
            outcome = apply(state, event, context.rules, delegations, now, sops=sops)
        except (NotEntitled, InvalidTransition, ValidationError) as refusal:
            _refuse(session, row, event_row, _reason(refusal), now)
            summary.refused += 1
            continue
        try:
            with session.begin_nested():
                _publish(session, row, outcome.state, event, outcome.notices, now)
        except (LedgerError, UnknownSop) as refusal:
            _refuse(session, row, event_row, f"the SOP registry refused: {refusal}", now)
            summary.refused += 1
            continue
        event_row.processed_at = now
        summary.applied += 1
        if outcome.state == state:
            continue
        state = outcome.state
        changed = True
        _audit_notices(session, row, event_row, outcome.notices, now)
        writer.notices(state, outcome.notices, origin=f"event:{event_row.id}")
        if any(isinstance(n, RequesterMatched) for n in outcome.notices):
            # Left out only now (Slack did not answer at routing): say what that leaves short.
            warn_unreachable(session, writer, state, row.route_name or "?", now)
        summary.notices += [n.kind for n in outcome.notices]
    if changed:
        row.state = state.model_dump(mode="json")
        row.stage = state.stage.value
        row.resume_stage = state.resume_stage.value if state.resume_stage else None
        row.assignee = state.assignee.slack_id if state.assignee else None
        row.updated_at = now
        writer.refresh_root(state, clocks=[])
    summary.stage_after = row.stage
    summary.holder = holder_of(state, context.rules)
    return summary


def holder_of(state: RequestState, rules: Rules) -> str:
    """Who the request waits on now, as rules keys, for run tags."""
    return state.waiting_on(rules).tag


def _registry_for(
    session: Session, state: RequestState, event: Event
) -> dict[str, SopVersion] | None:
    """The latest versions `apply` needs for `event`; None when it needs none."""
    if isinstance(event, SubmitAssessment):
        return latest_versions(session, event.assessment.affected_sops)
    if isinstance(event, PublishSop):
        ids = [d.sop_id for d in state.drafts]
        # Locked before reading: the versions must not move between the plan and the write.
        lock_sops(session, ids)
        return latest_versions(session, ids)
    return None


def _publish(
    session: Session,
    row: RequestRow,
    state: RequestState,
    event: Event,
    notices: tuple[Notice, ...],
    now: datetime,
) -> None:
    """Write the versions the lifecycle decided to publish; LedgerError if one differs."""
    author = event.actor.email or event.actor.slack_id or event.actor.label
    changelog = f"{row.jira_key}: {row.summary}".strip()
    for notice in notices:
        if not isinstance(notice, SopPublished):
            continue
        draft = state.draft(notice.sop_id)
        if draft is None or draft.content_hash != notice.content_hash:
            raise LedgerError(f"{row.jira_key}: no draft of {notice.sop_id} matches the plan")
        version = publish_version(
            session,
            notice.sop_id,
            draft.text,
            based_on_version=notice.based_on_version,
            author=author[:320],
            effective_date=notice.effective_date,
            changelog=changelog,
            jira_key=row.jira_key,
            now=now,
        )
        if version != notice.version:
            raise LedgerError(
                f"{notice.sop_id}: the registry made version {version}, not {notice.version}"
            )


def _audit_notices(
    session: Session, row: RequestRow, event: EventRow, notices: tuple[Notice, ...], now: datetime
) -> None:
    for notice in notices:
        record_audit(
            session,
            at=now,
            actor=event.actor or ACTOR,
            action=notice.kind,
            request_id=row.id,
            # A stage change says why in the reason column too, as intake's moves do.
            reason=notice.reason if isinstance(notice, StageChanged) else "",
            detail={"event_id": event.id, "notice": notice.model_dump(mode="json")},
        )


def _refuse(session: Session, row: RequestRow, event: EventRow, reason: str, now: datetime) -> None:
    event.processed_at = now
    record_audit(
        session,
        at=now,
        actor=event.actor or "unknown",
        action="event_refused",
        request_id=row.id,
        reason=reason[:2000],
        detail={"event_id": event.id, "kind": event.kind},
    )


def _reason(refusal: Exception) -> str:
    if isinstance(refusal, ValidationError):
        return f"malformed event: {refusal.error_count()} validation error(s)"
    return str(refusal)
