"""Reading, creating and locking request rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.stages import TERMINAL, Stage
from integrations.db.models import RequestRow
from integrations.db.upsert import insert_ignore


def ensure_request(
    session: Session,
    *,
    jira_key: str,
    jira_id: str,
    project: str,
    jira_updated: datetime,
    stage: Stage,
    now: datetime,
) -> bool:
    """Create the request for a Jira issue unless it exists; True when this call created it."""
    values: dict[str, Any] = {
        "jira_key": jira_key,
        "jira_id": jira_id,
        "project": project,
        "stage": stage.value,
        "facts": {},
        "fingerprint": "",
        "summary": "",
        "priority": "P3",
        "jira_updated": jira_updated,
        "created_at": now,
        "updated_at": now,
    }
    return insert_ignore(session, RequestRow.__table__, values, ["jira_key"])  # type: ignore[arg-type]


def lock_request(session: Session, jira_key: str) -> RequestRow:
    """The request row for `jira_key`, locked for this transaction (FOR UPDATE on PostgreSQL)."""
    query = select(RequestRow).where(RequestRow.jira_key == jira_key).with_for_update()
    return session.execute(query).scalar_one()


def lock_request_by_id(session: Session, request_id: int) -> RequestRow:
    """The request row with `request_id`, locked for this transaction."""
    query = select(RequestRow).where(RequestRow.id == request_id).with_for_update()
    return session.execute(query).scalar_one()


def key_and_stage(session: Session, request_id: int) -> tuple[str, str]:
    """The request's Jira key and stage, without locking (to name the run advancing it)."""
    row = session.execute(
        select(RequestRow.jira_key, RequestRow.stage).where(RequestRow.id == request_id)
    ).one()
    return row.jira_key, row.stage


def find_request(session: Session, jira_key: str) -> RequestRow | None:
    """The request for `jira_key`, if any, without locking."""
    return session.scalar(select(RequestRow).where(RequestRow.jira_key == jira_key))


def open_requests(session: Session, limit: int | None = None) -> Sequence[RequestRow]:
    """Requests not yet in a terminal stage, oldest first (the first `limit` of them)."""
    terminal = [stage.value for stage in TERMINAL]
    query = select(RequestRow).where(RequestRow.stage.not_in(terminal)).order_by(RequestRow.id)
    return session.scalars(query.limit(limit)).all()
