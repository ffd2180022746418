"""Many rows in one statement: the JSON parameter PostgreSQL unpacks, shared by the writers.

On PostgreSQL the bulk writes send their rows as ONE JSON parameter that the server unpacks
(`json_to_recordset`): a sweep's thousand rows cost one statement and one parse, where an
executemany costs a thousand parameter sets built and converted in Python (measured about
4x slower at 1,000 rows; see bench/watchdog.py). ORDINALITY keeps the given order, so ids
(and the outbox's delivery order) follow it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


def on_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as the compact JSON text a `json_to_recordset` parameter takes."""
    return json.dumps(rows, default=_iso_default, separators=(",", ":"))


def _iso_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
