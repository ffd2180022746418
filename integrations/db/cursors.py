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


# The cursor that holds when this ledger was first asked its birth: with its URL, it tells a
# ledger from another created later at the same URL (a sandbox restart, a dropped schema).
LEDGER_BORN = "ledger-born"


def ledger_born(session: Session, now: datetime) -> datetime:
    """When this ledger was born (first asked), recording `now` if this is the first time."""
    born = read_cursor(session, LEDGER_BORN)
    if born is not None:
        return born
    values = {"name": LEDGER_BORN, "position": now, "updated_at": now}
    insert_ignore(session, CursorRow.__table__, values, ["name"])  # type: ignore[arg-type]
    found = read_cursor(session, LEDGER_BORN)
    assert found is not None  # inserted here, or by whoever raced us to it
    return found
