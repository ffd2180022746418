"""Inbound events (clicks, submissions, Jira comments) waiting for `advance` to apply them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.db.models import EventRow
from integrations.db.notify import notify_pending
from integrations.db.upsert import insert_ignore


def record_event(
    session: Session,
    *,
    request_id: int,
    kind: str,
    actor: str | None,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
) -> bool:
    """Store an event unless one with the same dedupe key exists; True when stored.

    The dedupe key is what makes Slack's and Jira's retried deliveries record one fact.
    """
    values: dict[str, Any] = {
        "request_id": request_id,
        "kind": kind,
        "actor": actor,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "received_at": now,
        "processed_at": None,
    }
    stored = insert_ignore(session, EventRow.__table__, values, ["dedupe_key"])  # type: ignore[arg-type]
    if stored:
        notify_pending(session, request_id)
    return stored


def unprocessed_events(session: Session, request_id: int) -> Sequence[EventRow]:
    """A request's events not yet applied, in the order they arrived."""
    query = (
        select(EventRow)
        .where(EventRow.request_id == request_id, EventRow.processed_at.is_(None))
        .order_by(EventRow.id)
    )
    return session.scalars(query).all()


def requests_with_unprocessed_events(
    session: Session, *, received_before: datetime, limit: int = 500
) -> list[int]:
    """Requests holding events older than `received_before` that no `advance` has applied."""
    query = (
        select(EventRow.request_id)
        .where(EventRow.processed_at.is_(None), EventRow.received_at < received_before)
        .group_by(EventRow.request_id)
        .order_by(EventRow.request_id)
        .limit(limit)
    )
    return list(session.scalars(query).all())
