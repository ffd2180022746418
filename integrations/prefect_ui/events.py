"""Prefect events for each request's journey, read off the audit trail.

Every stage change, decision, refusal, SLA warning and breach is already an audit record,
written in the same transaction as the change itself; `emit_new_events` turns the records
added since it last ran into Prefect events (`prefect.events.emit_event`). Reading the
committed trail, rather than emitting beside every write, means an event is only ever sent
for a change that was kept, whoever made it (the runner, a receiver, the watchdog), and a
crash between the change and the emission only delays the event.

Each event is on the resource `govflow.request.<KEY>`, with the team and the person as
related resources (`govflow.team.<team>`, `govflow.person.<id>`, roles `team` and `actor`),
so the Event Feed filtered to one request shows its journey, and an Automation can match
`govflow.sla.breached` (docs/prefect-events.md). The resource also carries the labels
`govflow.installation` and `govflow.ledger`: installations sharing a Prefect server have
their own MODREQ-1, and so does a ledger recreated at the same address.

The high-water mark (the last audit id sent) is a Prefect Variable per ledger, moved once
the events are queued with Prefect's events worker; each event's id is derived from the
ledger and the audit id, so one sent twice (two processes publishing at once) is stored
once by the server. A process killed in the milliseconds between queueing and sending loses
those events.
On PostgreSQL two transactions can commit their audit ids out of order; a record committed
after a higher id was already sent is missed (a transaction would have to stay open across
a whole publication interval for that).
"""

from __future__ import annotations

import fcntl
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.events import emit_event
from prefect.exceptions import ObjectAlreadyExists
from prefect.variables import Variable
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.entitlement import team_label
from domain.rules import Rules
from govflow.runtime import Runtime, utc_now
from integrations.db.cursors import LEDGER_BORN, ledger_born, read_cursor
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
# A ledger first seen by this feed has its last week sent, not its whole history.
FIRST_LOOK_BACK = timedelta(days=7)
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


def emit_new_events(runtime: Runtime, *, limit: int = BATCH) -> int:
    """Send the events of every audit record since the last call; returns how many were sent."""
    with _one_publisher(runtime.settings.data_dir):
        return _emit_new_events(runtime, limit)


@contextmanager
def _one_publisher(data_dir: Path) -> Iterator[None]:
    """One publication at a time on this machine: the runner's, intake's and the watchdog's.

    Reading the mark, queueing the events and moving the mark is not atomic; two processes
    doing it at once send the same events twice. A PostgreSQL Prefect server ignores the
    second copy, but a SQLite one fails the whole flush when a batch holds only events it
    already has, and after five tries drops the batch, other events with it (bench field: 24
    to 44 events at a time).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "prefect-events.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _emit_new_events(runtime: Runtime, limit: int) -> int:
    origin = event_origin(runtime)
    cursor_name = f"govflow_events_{origin.ledger}"
    after = _cursor(runtime, cursor_name)
    sent = 0
    while True:
        with runtime.reads() as session:
            events, last = pending_events(session, runtime.rules, origin, after, limit)
        sent += emit(events)
        if last == after:
            break
        # The mark moves once the events are queued with Prefect's events worker, which sends
        # them within milliseconds (and at exit). Draining it here would stop the worker
        # every flow run of this process shares. A crash in between loses those events.
        _save_cursor(cursor_name, last)
        after = last
    return sent


def event_origin(runtime: Runtime) -> EventOrigin:
    """The origin of the events this installation's ledger sends (its labels on each event)."""
    ledger = ledger_tag(runtime.settings.database_url, _born(runtime))
    return EventOrigin(installation=runtime.settings.installation, ledger=ledger)


def _born(runtime: Runtime) -> datetime:
    # Read without the write lock; only a ledger's first publication writes its birth.
    with runtime.reads() as session:
        born = read_cursor(session, LEDGER_BORN)
    if born is not None:
        return born
    with runtime.sessions.begin() as session:
        return ledger_born(session, utc_now())


def _save_cursor(name: str, value: int) -> None:
    try:
        Variable.set(name, value, overwrite=True)
    except ObjectAlreadyExists:
        # Prefect's set reads, then creates: another process (two intakes at once) created
        # the variable in between. It exists now, so setting again updates it.
        Variable.set(name, value, overwrite=True)


def _cursor(runtime: Runtime, name: str) -> int:
    value = Variable.get(name, default=None)
    if isinstance(value, int):
        return value
    since = utc_now() - FIRST_LOOK_BACK
    with runtime.sessions.begin() as session:
        first = session.scalar(
            select(AuditRow.id).where(AuditRow.at >= since).order_by(AuditRow.id).limit(1)
        )
    return (first - 1) if first is not None else _last_id(runtime)


def _last_id(runtime: Runtime) -> int:
    with runtime.sessions.begin() as session:
        return session.scalar(select(AuditRow.id).order_by(AuditRow.id.desc()).limit(1)) or 0


def names_in(events: Sequence[RequestEvent]) -> list[str]:
    """The event names, in order (for summaries and tests)."""
    return [e.event for e in events]
