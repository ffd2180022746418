"""Advancing one request: apply its unprocessed events in order, under its row lock.

Safe to run twice (an applied event is marked processed in the same transaction) and never
waits for a human: an event that is not allowed is refused, audited and marked processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from domain.errors import InvalidTransition, NotEntitled
from domain.lifecycle import EVENTS, RequestState, apply
from domain.notices import Notice
from domain.stages import Stage
from govflow.delegation_sources import known_delegations
from govflow.effects import EffectContext, EffectWriter
from integrations.db.audit import record_audit
from integrations.db.events import unprocessed_events
from integrations.db.models import EventRow, RequestRow
from integrations.db.requests import lock_request_by_id

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
            outcome = apply(state, event, context.rules, delegations, now)
        except (NotEntitled, InvalidTransition, ValidationError) as refusal:
            _refuse(session, row, event_row, _reason(refusal), now)
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
        summary.notices += [n.kind for n in outcome.notices]
    if changed:
        row.state = state.model_dump(mode="json")
        row.stage = state.stage.value
        row.resume_stage = state.resume_stage.value if state.resume_stage else None
        row.assignee = state.assignee.slack_id if state.assignee else None
        row.updated_at = now
        writer.refresh_root(state, clocks=[])
    summary.stage_after = row.stage
    summary.holder = holder_of(state)
    return summary


def holder_of(state: RequestState) -> str:
    """Who the request waits on now, for run tags and the board."""
    if state.stage == Stage.EXPERT_REVIEW:
        return state.expert_team
    if state.stage == Stage.SIGN_OFF:
        return ",".join(t.team for t in state.signoff)
    if state.stage == Stage.NEEDS_INFO:
        return "requester"
    return "govflow"


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
