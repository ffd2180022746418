"""The outbox: external effects written with the state change that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from integrations.db.models import OutboxRow, RequestRow
from integrations.db.notify import notify_pending
from integrations.db.upsert import insert_ignore

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
SUPERSEDED = "superseded"


def enqueue_effect(
    session: Session,
    *,
    request_id: int,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> bool:
    """Queue an effect unless one with the same idempotency key exists; True when queued."""
    values: dict[str, Any] = {
        "request_id": request_id,
        "kind": kind,
        "payload": payload,
        "idempotency_key": idempotency_key,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "result": {},
        "created_at": now,
    }
    queued = insert_ignore(session, OutboxRow.__table__, values, ["idempotency_key"])  # type: ignore[arg-type]
    if queued:
        notify_pending(session, request_id)
    return queued


def requests_with_due_effects(session: Session, now: datetime, limit: int = 1000) -> list[int]:
    """Ids of requests holding at least one pending effect that is due, oldest first."""
    query = (
        select(OutboxRow.request_id)
        .where(OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now)
        .group_by(OutboxRow.request_id)
        .order_by(OutboxRow.request_id)
        .limit(limit)
    )
    return list(session.scalars(query).all())


def claim_request_effects(
    session: Session,
    request_id: int,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    dead_owner: str | None = None,
) -> bool:
    """Take the delivery lease on a request's effects; False when another deliverer holds it.

    `dead_owner` names a holder known to be gone (its process no longer exists): its lease is
    taken over at once rather than when it runs out, unless someone else took it meanwhile.
    """
    free = [
        RequestRow.lease_until.is_(None),
        RequestRow.lease_until < now,
        RequestRow.lease_owner == owner,
    ]
    if dead_owner is not None:
        free.append(RequestRow.lease_owner == dead_owner)
    statement = (
        update(RequestRow)
        .where(RequestRow.id == request_id, or_(*free))
        .values(lease_owner=owner, lease_until=now + lease)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def lease_holder(session: Session, request_id: int) -> str | None:
    """Who holds the delivery lease on a request's effects (expired or not), if anyone."""
    return session.scalar(select(RequestRow.lease_owner).where(RequestRow.id == request_id))


def release_request_effects(session: Session, request_id: int, *, owner: str) -> None:
    """Give back a delivery lease this owner holds."""
    session.execute(
        update(RequestRow)
        .where(RequestRow.id == request_id, RequestRow.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def pending_effects(session: Session, request_id: int) -> Sequence[OutboxRow]:
    """A request's pending effects in the order they were written."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.request_id == request_id, OutboxRow.status == PENDING)
        .order_by(OutboxRow.id)
    )
    return session.scalars(query).all()


def effects_of(session: Session, request_id: int) -> Sequence[OutboxRow]:
    """Every effect of a request, in order, whatever its status."""
    query = select(OutboxRow).where(OutboxRow.request_id == request_id).order_by(OutboxRow.id)
    return session.scalars(query).all()


def effect_by_key(session: Session, idempotency_key: str) -> OutboxRow | None:
    """The effect written under `idempotency_key`, if any."""
    return session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key))
