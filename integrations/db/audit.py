"""Appending to and reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.db.models import AuditRow


def record_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one audit record; never commits."""
    row = AuditRow(
        request_id=request_id,
        at=at,
        actor=actor,
        action=action,
        reason=reason,
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def record_trigger_failure(
    session: Session, *, request_id: int, error: Exception, at: datetime
) -> AuditRow:
    """Audit an `advance` trigger that failed; the watchdog re-drives the request later."""
    return record_audit(
        session,
        at=at,
        actor="govflow",
        action="advance_trigger_failed",
        request_id=request_id,
        reason=f"{type(error).__name__}: {error}"[:2000],
    )


def audit_trail(session: Session, request_id: int) -> Sequence[AuditRow]:
    """Every audit record of a request, oldest first."""
    query = select(AuditRow).where(AuditRow.request_id == request_id).order_by(AuditRow.id)
    return session.scalars(query).all()


def latest_audit(session: Session, request_id: int, action: str) -> AuditRow | None:
    """The request's most recent audit record of `action`, if it has one."""
    query = (
        select(AuditRow)
        .where(AuditRow.request_id == request_id, AuditRow.action == action)
        .order_by(AuditRow.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()
