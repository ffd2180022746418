"""Appending to and reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

from domain.notices import StageChanged
from integrations.db.bulk import json_rows, on_postgres
from integrations.db.models import AuditRow
from integrations.db.types import UtcDateTime


@dataclass(frozen=True)
class NewAudit:
    """An audit record to append; `request_id` None for what concerns no request."""

    request_id: int | None
    actor: str
    action: str
    reason: str
    detail: dict[str, Any]


def append_audits(session: Session, records: Sequence[NewAudit], now: datetime) -> None:
    """The audit trail's one writer: append records in order, all stamped `now`; never commits."""
    if not records:
        return
    rows = [
        {
            "request_id": r.request_id,
            "actor": r.actor,
            "action": r.action,
            "reason": r.reason,
            "detail": r.detail,
        }
        for r in records
    ]
    if on_postgres(session):
        session.execute(_PG_APPEND_AUDITS, {"rows": json_rows(rows), "now": now})
        return
    session.execute(insert(AuditRow), [{**row, "at": now} for row in rows])


def record_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit record (`append_audits`); never commits."""
    append_audits(session, [NewAudit(request_id, actor, action, reason, detail or {})], at)


def record_trigger_failure(
    session: Session, *, request_id: int, error: Exception, at: datetime
) -> None:
    """Audit an `advance` trigger that failed; the watchdog re-drives the request later."""
    record_audit(
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


def stage_change(row: AuditRow) -> StageChanged | None:
    """The move a `stage_changed` record tells, whichever shape it was written in.

    Records are `{"notice": StageChanged}` with the reason in their reason column; intake's
    records before December 2026 were `{"from": ..., "to": ...}`, and advance's left the
    reason column empty.
    """
    if row.action != "stage_changed":
        return None
    detail = row.detail or {}
    notice = detail.get("notice")
    if isinstance(notice, dict):
        return StageChanged.model_validate(notice)
    return StageChanged(from_stage=detail["from"], to_stage=detail["to"], reason=row.reason)


# Rows in order, in one statement (see `integrations.db.bulk`).
_PG_APPEND_AUDITS = text(
    """
    INSERT INTO audit_events (request_id, at, actor, action, reason, detail)
    SELECT r.request_id, :now, r.actor, r.action, r.reason, r.detail
    FROM ROWS FROM (json_to_recordset(CAST(:rows AS JSON))
                    AS (request_id BIGINT, actor TEXT, action TEXT, reason TEXT, detail JSON))
         WITH ORDINALITY AS r(request_id, actor, action, reason, detail, n)
    ORDER BY r.n
    """
).bindparams(bindparam("now", type_=UtcDateTime()))
