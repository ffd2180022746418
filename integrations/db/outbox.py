"""The outbox: external effects written with the state change that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from integrations.db.bulk import json_rows, on_postgres
from integrations.db.models import OutboxRow, RequestRow
from integrations.db.notify import PENDING_CHANNEL
from integrations.db.types import UtcDateTime

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class NewEffect:
    """An outbox row to queue unless its idempotency key is already there."""

    request_id: int
    kind: str
    payload: dict[str, Any]
    idempotency_key: str


def enqueue_effects(session: Session, effects: Sequence[NewEffect], now: datetime) -> int:
    """The outbox's one writer: queue effects in order, skipping idempotency keys already queued.

    Runners listening on PostgreSQL are woken at commit for each request that got a row.
    Returns how many went in.
    """
    if not effects:
        return 0
    if on_postgres(session):
        rows = [
            {
                "request_id": e.request_id,
                "kind": e.kind,
                "payload": e.payload,
                "idempotency_key": e.idempotency_key,
            }
            for e in effects
        ]
        params = {
            "rows": json_rows(rows),
            "now": now,
            "status": PENDING,
            "channel": PENDING_CHANNEL,
        }
        return len(session.execute(_PG_ENQUEUE, params).all())
    statement = (
        sqlite.insert(OutboxRow)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxRow.id)
    )
    values = [
        {
            "request_id": e.request_id,
            "kind": e.kind,
            "payload": e.payload,
            "idempotency_key": e.idempotency_key,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "result": {},
            "created_at": now,
        }
        for e in effects
    ]
    return len(session.execute(statement, values).all())


def enqueue_effect(
    session: Session,
    *,
    request_id: int,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> bool:
    """Queue one effect unless its idempotency key exists (`enqueue_effects`); True when queued."""
    effect = NewEffect(request_id, kind, payload, idempotency_key)
    return enqueue_effects(session, [effect], now) == 1


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


# Rows in order (see `integrations.db.bulk`); each row that went in wakes the runners at
# commit (PostgreSQL folds repeated notifications of one transaction into one).
_PG_ENQUEUE = text(
    """
    WITH queued AS (
        INSERT INTO outbox (request_id, kind, payload, idempotency_key, status, attempts,
                            next_attempt_at, last_error, result, created_at)
        SELECT r.request_id, r.kind, r.payload, r.idempotency_key, :status, 0,
               :now, '', CAST('{}' AS JSON), :now
        FROM ROWS FROM (json_to_recordset(CAST(:rows AS JSON))
                        AS (request_id BIGINT, kind TEXT, payload JSON, idempotency_key TEXT))
             WITH ORDINALITY AS r(request_id, kind, payload, idempotency_key, n)
        ORDER BY r.n
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, request_id
    )
    SELECT queued.id, pg_notify(:channel, CAST(queued.request_id AS TEXT)) FROM queued
    """
).bindparams(bindparam("now", type_=UtcDateTime()))
