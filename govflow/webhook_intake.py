"""What a Jira webhook delivery records: intake for an issue, a requester's reply for a comment.

The use case behind `POST /jira/webhook` (`govflow.jira_webhook` verifies and parses). Each
delivery's identifiers are claimed as receipts in the same transaction as what it records,
so a retried delivery, or a replay under a forged identifier, records nothing twice. Plain
functions over one ledger session; they return what the delivery came to, as a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from domain.lifecycle import RequesterReplied, RequestState
from domain.people import Person
from domain.stages import Stage
from domain.ticket import Ticket
from govflow.intake import IntakeContext, record_ticket
from govflow.requesters import record_lookup_failure
from integrations.db.audit import record_audit
from integrations.db.events import record_event, unprocessed_events
from integrations.db.models import EventRow
from integrations.db.requests import find_request

RECEIPT_KIND = "jira_webhook"


@dataclass(frozen=True)
class Delivery:
    """What one delivery came to: its `outcome` word and the request it touched."""

    outcome: str
    request_id: int | None = None

    @property
    def to_advance(self) -> int | None:
        """The request the delivery gave `advance` something to do on, if any."""
        return self.request_id if self.outcome in ("recorded", "intake") else None


def take_issue(
    session: Session,
    ticket: Ticket,
    context: IntakeContext,
    *,
    event: str,
    identifiers: Sequence[str],
    changed_fields: Sequence[str],
    lookup_failure: str | None,
    now: datetime,
) -> Delivery:
    """Intake for one issue with the delivery's receipts; rolled back whole if it is a repeat.

    `lookup_failure`: why Slack could not match the reporter's email just before (audited on
    the request, to be retried). The caller commits.
    """
    outcome = record_ticket(session, ticket, context, now)
    row = find_request(session, ticket.key)
    assert row is not None  # record_ticket made sure it exists
    request_id = row.id
    if lookup_failure is not None and ticket.reporter_email:
        record_lookup_failure(session, request_id, ticket.reporter_email, lookup_failure, now)
    if not all(claim_receipt(session, request_id, i, now) for i in identifiers):
        # A retry or replay of a delivery already recorded: undo this attempt entirely.
        session.rollback()
        return Delivery("duplicate", request_id)
    record_audit(
        session,
        at=now,
        actor=ticket.reporter_account_id or "jira",
        action="webhook_received",
        request_id=row.id,
        detail={
            "event": event,
            "identifier": identifiers[0],
            "intake": outcome.value,
            "fields": list(changed_fields[:20]),
        },
    )
    return Delivery("intake" if outcome.changed else "unchanged", request_id)


def take_comment(
    session: Session, jira_key: str, comment_id: str, body: str, actor: Person, now: datetime
) -> Delivery:
    """A Jira comment: `RequesterReplied` if its request may be waiting for one."""
    row = find_request(session, jira_key)
    if row is None or row.state is None:
        return Delivery("ignored unknown request")
    state = RequestState.model_validate(row.state)
    # Outside NEEDS_INFO nothing waits for a reply, unless events not yet applied
    # (a question just asked) are about to put it there.
    waiting = state.stage is Stage.NEEDS_INFO or bool(unprocessed_events(session, row.id))
    if not waiting:
        return Delivery("ignored: not waiting for an answer", row.id)
    event = RequesterReplied(
        event_id=f"jira:comment:{comment_id}",
        actor=actor,
        at=now,
        body=body,
        comment_id=comment_id,
    )
    new = record_event(
        session,
        request_id=row.id,
        kind=event.kind,
        actor=actor.email or actor.jira_account_id,
        payload=event.model_dump(mode="json"),
        dedupe_key=event.event_id,
        now=now,
    )
    if not new:
        return Delivery("duplicate", row.id)
    record_audit(
        session,
        at=now,
        actor=actor.email or actor.jira_account_id or "jira",
        action="event_received",
        request_id=row.id,
        detail={"kind": event.kind, "dedupe_key": event.event_id, "via": "jira"},
    )
    return Delivery("recorded", row.id)


def claim_receipt(session: Session, request_id: int, identifier: str, now: datetime) -> bool:
    """Store a webhook's identifier once (as a processed event row); False if it was seen."""
    key = f"jira:webhook:{identifier}"
    added = record_event(
        session,
        request_id=request_id,
        kind=RECEIPT_KIND,
        actor=None,
        payload={},
        dedupe_key=key,
        now=now,
    )
    if added:
        # Processed from the start: a receipt is bookkeeping, not something to apply.
        session.execute(update(EventRow).where(EventRow.dedupe_key == key).values(processed_at=now))
    return added
