"""INSERT ... ON CONFLICT DO NOTHING for both ledger backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
    """Insert `values` unless a row with the same `keys` exists; True when a row was added."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # RETURNING tells reliably whether the row went in; rowcount does not on every driver.
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(*[table.c[k] for k in keys])
    )
    return session.execute(statement).first() is not None
