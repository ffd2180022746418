"""SLA clocks in the ledger: reading, creating and saving them, and the watchdog's selection.

Nothing here commits; the caller owns the transaction. The watchdog's writes come in bulk
(one statement per kind of row per sweep, not one per clock) so a sweep's cost follows the
number of clocks due, not the number open.

Locking. `select_due` locks the clocks it returns *and their requests* with
`FOR NO KEY UPDATE ... SKIP LOCKED` on PostgreSQL: two watchdogs at once split the due
clocks between them, and a request that `advance` holds (`FOR UPDATE`) is skipped this sweep
instead of deadlocking with it (the watchdog's outbox and audit inserts need a key-share lock
on the request, `advance` then wants the clock rows). `NO KEY UPDATE` rather than `UPDATE`
so that inbound events can still be recorded for those requests meanwhile. SQLite ignores
row locks: its writers are serialized by `BEGIN IMMEDIATE` (see `engine.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, select, text, update
from sqlalchemy.orm import Session

from integrations.db.bulk import json_rows, on_postgres
from integrations.db.models import IdentityRow, RequestRow, SlaClockRow
from integrations.db.types import UtcDateTime
from integrations.db.upsert import insert_ignore

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"


@dataclass(frozen=True)
class NewClock:
    """The columns of a clock about to be started."""

    request_id: int
    stage: str
    team: str
    round: int
    calendar: str
    sla_policy: str
    clock: dict[str, Any]
    status: str
    next_due_at: datetime | None
    due_at: datetime | None
    schedule: dict[str, Any] | None


@dataclass(frozen=True)
class DueClock:
    """A clock the watchdog must look at, with what it needs of its request."""

    id: int
    request_id: int
    stage: str
    team: str
    round: int
    calendar: str
    sla_policy: str
    # The clock and the request's lifecycle state come as JSON text: pydantic reads text into
    # its models in one step, faster than a JSON decode then validation of the objects.
    clock: str
    schedule: dict[str, Any] | None
    jira_key: str
    priority: str
    state: str | None
    assignee: str | None


@dataclass(frozen=True)
class ClockUpdate:
    """A clock's new JSON and the columns derived from it (`schedule` None: keep the stored one)."""

    id: int
    clock: dict[str, Any]
    status: str
    next_due_at: datetime | None
    due_at: datetime | None
    schedule: dict[str, Any] | None


def clocks_of(session: Session, request_id: int, *, lock: bool = False) -> Sequence[SlaClockRow]:
    """Every clock of a request in the order started; `lock` takes their row locks."""
    query = select(SlaClockRow).where(SlaClockRow.request_id == request_id).order_by(SlaClockRow.id)
    if lock:
        # Waits for a watchdog that is firing one of them, so its marks are not overwritten.
        query = query.with_for_update()
    return session.scalars(query).all()


def insert_clock(session: Session, new: NewClock, now: datetime) -> SlaClockRow | None:
    """Start a clock unless one exists for its request, stage, team and round.

    Returns the new row, or None when the clock was there already (a repeated call).
    """
    values: dict[str, Any] = {
        "request_id": new.request_id,
        "stage": new.stage,
        "team": new.team,
        "round": new.round,
        "calendar": new.calendar,
        "sla_policy": new.sla_policy,
        "clock": new.clock,
        "status": new.status,
        "next_due_at": new.next_due_at,
        "due_at": new.due_at,
        "schedule": new.schedule,
        "created_at": now,
        "updated_at": now,
    }
    keys = ["request_id", "stage", "team", "round"]
    if not insert_ignore(session, SlaClockRow.__table__, values, keys):  # type: ignore[arg-type]
        return None
    return session.scalars(
        select(SlaClockRow).where(
            SlaClockRow.request_id == new.request_id,
            SlaClockRow.stage == new.stage,
            SlaClockRow.team == new.team,
            SlaClockRow.round == new.round,
        )
    ).one()


def select_due(session: Session, now: datetime, limit: int) -> list[DueClock]:
    """Up to `limit` clocks whose `next_due_at <= now`, earliest first, locked (see module)."""
    query = (
        select(
            SlaClockRow.id,
            SlaClockRow.request_id,
            SlaClockRow.stage,
            SlaClockRow.team,
            SlaClockRow.round,
            SlaClockRow.calendar,
            SlaClockRow.sla_policy,
            cast(SlaClockRow.clock, Text),
            SlaClockRow.schedule,
            RequestRow.jira_key,
            RequestRow.priority,
            cast(RequestRow.state, Text),
            RequestRow.assignee,
        )
        .join(RequestRow, RequestRow.id == SlaClockRow.request_id)
        .where(SlaClockRow.next_due_at <= now)
        .order_by(SlaClockRow.next_due_at)
        .limit(limit)
        .with_for_update(of=[SlaClockRow, RequestRow], skip_locked=True, key_share=True)
    )
    return [DueClock(*row) for row in session.execute(query).all()]


def save_clocks(session: Session, updates: Sequence[ClockUpdate], now: datetime) -> None:
    """Write many clocks' new JSON and derived columns in one statement.

    A sweep mostly leaves schedules as they were; sending them back unchanged made a third of
    the statement's JSON, so a `schedule` of None keeps the stored one.
    """
    if not updates:
        return
    if on_postgres(session):
        rows = [
            {
                "id": u.id,
                "clock": u.clock,
                "status": u.status,
                "next_due_at": _iso(u.next_due_at),
                "due_at": _iso(u.due_at),
                "schedule": u.schedule,
            }
            for u in updates
        ]
        session.execute(_PG_SAVE_CLOCKS, {"rows": json_rows(rows), "now": now})
        return
    changed = {"id", "clock", "status", "next_due_at", "due_at", "updated_at"}
    values: list[dict[str, Any]] = [
        {
            "id": u.id,
            "clock": u.clock,
            "status": u.status,
            "next_due_at": u.next_due_at,
            "due_at": u.due_at,
            "updated_at": now,
            **({"schedule": u.schedule} if u.schedule is not None else {}),
        }
        for u in updates
    ]
    # The ORM's bulk UPDATE by id sends one executemany per set of columns.
    for columns in (changed, changed | {"schedule"}):
        batch = [v for v in values if v.keys() == columns]
        if batch:
            session.execute(update(SlaClockRow), batch)


def slack_ids_by_email(session: Session, emails: Sequence[str]) -> dict[str, str]:
    """Slack user ids already looked up for these emails (lower-cased keys)."""
    wanted = sorted({e.casefold() for e in emails})
    if not wanted:
        return {}
    query = select(IdentityRow.email, IdentityRow.slack_user_id).where(
        IdentityRow.email.in_(wanted), IdentityRow.slack_user_id.is_not(None)
    )
    return {
        email.casefold(): slack_id
        for email, slack_id in session.execute(query).all()
        if slack_id is not None
    }


def _iso(value: datetime | None) -> str | None:
    # Converting while building rows is cheaper than `json.dumps` calling back for each one.
    return value.isoformat() if value is not None else None


# One statement per sweep for the clocks saved (see `integrations.db.bulk`).
_PG_SAVE_CLOCKS = text(
    """
    UPDATE sla_clocks AS c
    SET clock = r.clock, status = r.status, next_due_at = r.next_due_at, due_at = r.due_at,
        schedule = COALESCE(r.schedule, c.schedule), updated_at = :now
    FROM json_to_recordset(CAST(:rows AS JSON))
         AS r(id BIGINT, clock JSON, status TEXT, next_due_at TIMESTAMPTZ, due_at TIMESTAMPTZ,
              schedule JSON)
    WHERE c.id = r.id
    """
).bindparams(bindparam("now", type_=UtcDateTime()))
