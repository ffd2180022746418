"""Named high-water marks, such as how far the intake poll has read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.db.models import CursorRow
from integrations.db.upsert import insert_ignore


def read_cursor(session: Session, name: str) -> datetime | None:
    """The cursor's position, or None before its first move."""
    return session.scalar(select(CursorRow.position).where(CursorRow.name == name))


def advance_cursor(session: Session, name: str, position: datetime, now: datetime) -> datetime:
    """Move the cursor forward to `position` (never backward); return where it stands."""
    values = {"name": name, "position": position, "updated_at": now}
    if insert_ignore(session, CursorRow.__table__, values, ["name"]):  # type: ignore[arg-type]
        return position
    row = session.execute(
        select(CursorRow).where(CursorRow.name == name).with_for_update()
    ).scalar_one()
    if position > row.position:
        row.position = position
        row.updated_at = now
    return row.position
