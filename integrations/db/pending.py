"""The ledger as the queue of `advance` work: requests with unapplied events or due effects.

A decision is durable the moment its event row commits (DESIGN decision 1); what is left is
to notice it. Runners ask `requests_with_pending_work` in a short loop, and on PostgreSQL
they also LISTEN on `PENDING_CHANNEL`, which `notify.notify_pending` signals in the same
transaction that records the work (a NOTIFY is delivered at commit, never before, and not
at all on rollback). SQLite has no such signal; its loop is short and its query indexed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, union
from sqlalchemy.orm import Session

from integrations.db.models import EventRow, OutboxRow
from integrations.db.notify import PENDING_CHANNEL
from integrations.db.outbox import PENDING

__all__ = ["PENDING_CHANNEL", "has_pending_work", "requests_with_pending_work"]

# Namespace of the advisory locks runners claim requests with (PostgreSQL): any constant
# unlikely to be used by another application sharing the database.
CLAIM_LOCK_NAMESPACE = 0x67F1


def requests_with_pending_work(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Ids of requests with an event to apply or an effect due, lowest id first."""
    events = select(EventRow.request_id).where(EventRow.processed_at.is_(None))
    effects = select(OutboxRow.request_id).where(
        OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now
    )
    ids = union(events, effects).subquery()
    query = select(ids.c.request_id).order_by(ids.c.request_id).limit(limit)
    return list(session.scalars(query).all())


def has_pending_work(session: Session, request_id: int, now: datetime) -> bool:
    """Whether the request still has an event to apply or an effect due."""
    event = exists().where(EventRow.request_id == request_id, EventRow.processed_at.is_(None))
    effect = exists().where(
        OutboxRow.request_id == request_id,
        OutboxRow.status == PENDING,
        OutboxRow.next_attempt_at <= now,
    )
    return bool(session.scalar(select(event | effect)))
