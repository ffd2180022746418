"""Out-of-office delegations recorded through Slack (`/govflow ooo`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.db.models import DelegationRow


def add_delegation(
    session: Session,
    *,
    approver: str,
    delegate: str,
    start: date,
    until: date,
    created_by: str,
    now: datetime,
) -> DelegationRow:
    """Record that `delegate` may act for `approver` from `start` to `until` inclusive."""
    row = DelegationRow(
        approver=approver,
        delegate=delegate,
        start=start,
        until=until,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def delegations_covering(session: Session, on: date) -> Sequence[DelegationRow]:
    """Delegations whose date range includes `on` (older ones stay for the audit trail)."""
    query = select(DelegationRow).where(DelegationRow.start <= on, DelegationRow.until >= on)
    return session.scalars(query.order_by(DelegationRow.id)).all()


def recent_delegations(session: Session, since: date) -> Sequence[DelegationRow]:
    """Delegations that have not ended before `since`, for applying events of the last days."""
    query = select(DelegationRow).where(DelegationRow.until >= since)
    return session.scalars(query.order_by(DelegationRow.id)).all()
