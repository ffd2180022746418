"""Prefect events for each request's journey, made from its audit records.

Every stage change, decision, refusal, SLA warning and breach is already an audit record;
`pending_events` reads those after a given audit id and `event_for` makes each a Prefect
event, which `emit` hands to Prefect's events worker (`prefect.events.emit_event`). Which
records are new, and when they are sent, is the event feed's (`govflow.event_feed`), with
its high-water mark kept in a Prefect Variable (`read_mark`, `save_mark`).

Each event is on the resource `govflow.request.<KEY>`, with the team and the person as
related resources (`govflow.team.<team>`, `govflow.person.<id>`, roles `team` and `actor`),
so the Event Feed filtered to one request shows its journey, and an Automation can match
`govflow.sla.breached` (docs/prefect-events.md). The resource also carries the labels
`govflow.installation` and `govflow.ledger`: installations sharing a Prefect server have
their own MODREQ-1, and so does a ledger recreated at the same address. Each event's id is
derived from the ledger and the audit id, so one sent twice is stored once by the server.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect.events import emit_event
from prefect.exceptions import ObjectAlreadyExists
from prefect.variables import Variable
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.entitlement import team_label
from domain.rules import Rules
from integrations.db.models import AuditRow, RequestRow

# Audit actions that are events, and the event each becomes.
EVENT_NAMES: Mapping[str, str] = {
    "request_created": "govflow.request.created",
    "routed": "govflow.request.routed",
    "stage_changed": "govflow.stage.changed",
    "claimed": "govflow.request.claimed",
    "assessment_recorded": "govflow.assessment.recorded",
    "decision_recorded": "govflow.decision.recorded",
    "info_requested": "govflow.info.requested",
    "info_received": "govflow.info.received",
    "sop_published": "govflow.sop.published",
    "cancelled": "govflow.request.cancelled",
    "event_refused": "govflow.request.refused",
    "action_refused": "govflow.request.refused",
    "command_refused": "govflow.request.refused",
    "sla_warning": "govflow.sla.warning",
    "sla_breach": "govflow.sla.breached",
}
BATCH = 500
_NAMESPACE = uuid.UUID("8f1d6a52-3c1e-4d7e-9a55-6b0c2f3e9d11")
GOVFLOW = "govflow"


@dataclass(frozen=True)
class RequestEvent:
    """One Prefect event, ready for `emit_event`."""

    id: uuid.UUID
    event: str
    occurred: datetime
    resource: dict[str, str]
    related: list[dict[str, str]]
    payload: dict[str, Any]


@dataclass(frozen=True)
class EventOrigin:
    """Whose events these are: the installation and the ledger (`ledger_tag`) they come from."""

    installation: str
    ledger: str


def ledger_tag(database_url: str, born: datetime) -> str:
    """A short, stable name for one ledger, for its cursor and its events' ids.

    The URL alone is not enough: a ledger recreated at the same URL (a sandbox restart) starts
    its audit ids again at 1, and under the old ledger's name its events would get the old
    events' ids (dropped by the server as duplicates) behind the old high-water mark.
    """
    return hashlib.sha256(f"{database_url} {born.isoformat()}".encode()).hexdigest()[:12]


def event_for(
    row: AuditRow, jira_key: str, rules: Rules, origin: EventOrigin
) -> RequestEvent | None:
    """The Prefect event of one audit record of a request; None for internal receipts."""
    name = EVENT_NAMES.get(row.action)
    if name is None:
        return None
    detail = row.detail or {}
    notice = detail.get("notice") if isinstance(detail.get("notice"), dict) else {}
    assert isinstance(notice, dict)
    payload: dict[str, Any] = {"action": row.action, "reason": row.reason, "audit_id": row.id}
    team = _team_of(detail, notice)
    person = _person_of(row.actor, notice)
    if row.action == "stage_changed":
        payload["from"] = notice.get("from_stage") or detail.get("from")
        payload["to"] = notice.get("to_stage") or detail.get("to")
        payload["reason"] = row.reason or notice.get("reason", "")
    elif row.action == "decision_recorded":
        decision = notice.get("decision") or {}
        payload.update(
            verdict=decision.get("verdict"),
            reason=decision.get("reason", ""),
            progress=notice.get("progress"),
            round=decision.get("round"),
        )
    elif row.action in ("sla_warning", "sla_breach"):
        payload.update(
            stage=detail.get("stage"),
            threshold=detail.get("threshold"),
            due_at=detail.get("due_at"),
            round=detail.get("round"),
        )
    related = []
    if team:
        related.append(
            {
                "prefect.resource.id": f"govflow.team.{team}",
                "prefect.resource.role": "team",
                "prefect.resource.name": team_label(rules, team),
            }
        )
        payload["team"] = team
    if person is not None:
        ident, label = person
        related.append(
            {
                "prefect.resource.id": f"govflow.person.{ident}",
                "prefect.resource.role": "actor",
                "prefect.resource.name": label,
            }
        )
        payload["actor"] = label
    return RequestEvent(
        id=uuid.uuid5(_NAMESPACE, f"{origin.ledger}:{row.id}"),
        event=name,
        occurred=row.at,
        resource={
            "prefect.resource.id": f"govflow.request.{jira_key}",
            "prefect.resource.name": jira_key,
            "govflow.installation": origin.installation,
            "govflow.ledger": origin.ledger,
        },
        related=related,
        payload=payload,
    )


def _team_of(detail: Mapping[str, Any], notice: Mapping[str, Any]) -> str | None:
    decision = notice.get("decision")
    for found in (
        detail.get("team"),
        notice.get("team"),
        decision.get("team") if isinstance(decision, dict) else None,
    ):
        if isinstance(found, str) and found:
            return found
    return None


def _person_of(actor: str, notice: Mapping[str, Any]) -> tuple[str, str] | None:
    """The acting person as (identifier, name): from the notice where it names them."""
    decision = notice.get("decision")
    for found in (
        notice.get("by"),
        decision.get("approver") if isinstance(decision, dict) else None,
    ):
        if isinstance(found, dict):
            ident = found.get("slack_id") or found.get("email") or found.get("jira_account_id")
            if ident:
                return str(ident), str(found.get("name") or ident)
    if not actor or actor in (GOVFLOW, "unknown"):
        return None
    return actor, actor


def pending_events(
    session: Session, rules: Rules, origin: EventOrigin, after: int, limit: int = BATCH
) -> tuple[list[RequestEvent], int]:
    """The events of audit records after id `after`, and the last id looked at."""
    query = (
        select(AuditRow, RequestRow.jira_key)
        .join(RequestRow, RequestRow.id == AuditRow.request_id)
        .where(AuditRow.id > after)
        .order_by(AuditRow.id)
        .limit(limit)
    )
    events, last = [], after
    for row, key in session.execute(query):
        last = row.id
        found = event_for(row, key, rules, origin)
        if found is not None:
            events.append(found)
    return events, last


def emit(events: Iterable[RequestEvent]) -> int:
    """Hand events to Prefect's events worker; returns how many."""
    count = 0
    for item in events:
        emit_event(
            event=item.event,
            resource=item.resource,
            occurred=item.occurred,
            related=item.related,
            payload=item.payload,
            id=item.id,
        )
        count += 1
    return count


def read_mark(name: str) -> int | None:
    """The high-water mark kept in the Prefect Variable `name`; None before its first move."""
    value = Variable.get(name, default=None)
    return value if isinstance(value, int) else None


def save_mark(name: str, value: int) -> None:
    """Move the high-water mark kept in the Prefect Variable `name` to `value`."""
    try:
        Variable.set(name, value, overwrite=True)
    except ObjectAlreadyExists:
        # Prefect's set reads, then creates: another process (two intakes at once) created
        # the variable in between. It exists now, so setting again updates it.
        Variable.set(name, value, overwrite=True)
