"""The event feed: the audit records added since the last publication, sent as Prefect events.

Every stage change, decision, refusal, SLA warning and breach is already an audit record,
written in the same transaction as the change itself; `emit_new_events` turns the records
added since it last ran into Prefect events (`integrations.prefect_ui.events`). Reading the
committed trail, rather than emitting beside every write, means an event is only ever sent
for a change that was kept, whoever made it (the runner, a receiver, the watchdog), and a
crash between the change and the emission only delays the event.

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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from govflow.runtime import Runtime, utc_now
from integrations.db.cursors import LEDGER_BORN, ledger_born, read_cursor
from integrations.db.models import AuditRow
from integrations.prefect_ui.events import (
    BATCH,
    EventOrigin,
    emit,
    ledger_tag,
    pending_events,
    read_mark,
    save_mark,
)

# A ledger first seen by this feed has its last week sent, not its whole history.
FIRST_LOOK_BACK = timedelta(days=7)


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
        save_mark(cursor_name, last)
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


def _cursor(runtime: Runtime, name: str) -> int:
    value = read_mark(name)
    if value is not None:
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
