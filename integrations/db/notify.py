"""A PostgreSQL NOTIFY that wakes the runners when new work is recorded in the ledger."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

PENDING_CHANNEL = "govflow_pending"


def notify_pending(session: Session, request_id: int) -> None:
    """Wake listening runners at commit (PostgreSQL); nothing to do on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": PENDING_CHANNEL, "payload": str(request_id)},
    )
