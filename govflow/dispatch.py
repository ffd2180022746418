"""The runner's dispatcher: `advance` for every request whose work waits in the ledger.

The ledger is the queue (DESIGN decisions 1 and 2). A receiver only records a decision; the
dispatcher notices it (PostgreSQL: a NOTIFY at commit, with a poll behind it; SQLite: a short
poll of an indexed query), claims the request and runs `advance` for it on one of a few
worker threads. Nothing depends on a Prefect submission arriving, so nothing is lost when a
Prefect server restarts or another worker is subscribed to the same task key.

Claims: on PostgreSQL a session advisory lock per request, held on its own connection for
the length of the run, so any number of runners share the work and never run one request
twice at once (a runner that dies drops its connection and with it the claim). `advance`'s
row lock stays what makes applying an event exactly-once; the claim only saves the second
runner an empty run. On SQLite, one runner per ledger: the in-process set of requests in
flight is the claim.

A request that still has work after its run waits before its next run: never a hot loop,
never a request given up on (`backoff_delay`). A run that failed (Slack down, a bug) waits
0.25 s doubling up to `MAX_BACKOFF`; a run that went through but moved nothing (its effects'
delivery lease is held by intake or the watchdog, which are delivering them) waits at most
`MAX_IDLE_BACKOFF`, because the holder lets go within a moment and a click is waiting.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from integrations.db.engine import reader_for
from integrations.db.pending import (
    CLAIM_LOCK_NAMESPACE,
    PENDING_CHANNEL,
    has_pending_work,
    requests_with_pending_work,
)

log = logging.getLogger(__name__)

# How often the ledger is asked when nothing woke the dispatcher: SQLite's only signal, and
# PostgreSQL's net under its NOTIFY (a listener reconnecting may miss one).
SQLITE_POLL_SECONDS = 0.1
POSTGRES_POLL_SECONDS = 1.0
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 30.0
MAX_IDLE_BACKOFF = 2.0

# `run(request_id)` advances one request; True when it applied or delivered anything.
RunAdvance = Callable[[int], bool]
Clock = Callable[[], datetime]


@dataclass
class _Backoff:
    failures: int = 0
    not_before: float = 0.0


@dataclass
class DispatchStats:
    """What the dispatcher did since it started (for tests, metrics and logs)."""

    runs: int = 0
    failed: int = 0
    skipped_claimed: int = 0
    woken: int = 0


@dataclass
class Dispatcher:
    """Finds requests with pending work in the ledger and advances each on a worker thread."""

    engine: Engine
    run: RunAdvance
    clock: Clock
    workers: int = 4
    poll_seconds: float | None = None
    # Called once in each worker thread before its first run (what runs there share).
    thread_setup: Callable[[], None] | None = None
    stats: DispatchStats = field(default_factory=DispatchStats)

    def __post_init__(self) -> None:
        self._postgres = self.engine.dialect.name == "postgresql"
        if self.poll_seconds is None:
            self.poll_seconds = POSTGRES_POLL_SECONDS if self._postgres else SQLITE_POLL_SECONDS
        # govflow's SQLite engine begins every transaction IMMEDIATE; ten polls a second through it
        # would queue with every writer.
        self._reads = sessionmaker(reader_for(self.engine))
        self._in_flight: set[int] = set()
        self._backoff: dict[int, _Backoff] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._last_started = 0
        # Not the pool's initializer: one that raises (Prefect unreachable when a new worker
        # thread starts) breaks the pool for good and ends the dispatcher with it. Set up in
        # the run instead, where a failure is a failed run, retried with backoff.
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="advance")
        self._thread_ready = threading.local()

    def serve(self, stop: threading.Event) -> None:
        """Dispatch until `stop` is set, then wait for the runs in flight."""
        listener = None
        if self._postgres:
            listener = threading.Thread(
                target=self._listen, args=(stop,), name="advance-listen", daemon=True
            )
            listener.start()
        try:
            while not stop.is_set():
                # Cleared before looking, not after waiting: a run that ends meanwhile wakes
                # the next pass instead of being lost until the next poll.
                self._wake.clear()
                self.dispatch_once()
                self._wake.wait(self.poll_seconds)
        finally:
            self._pool.shutdown(wait=True)

    def wake(self) -> None:
        """Look at the ledger now rather than at the next poll."""
        self._wake.set()

    def dispatch_once(self) -> list[int]:
        """Start runs for the requests with pending work that fit free workers; their ids."""
        with self._lock:
            free = self.workers - len(self._in_flight)
        if free <= 0:
            return []
        with self._reads() as session:
            candidates = requests_with_pending_work(session, self.clock())
        started: list[int] = []
        for request_id in self._fair(candidates):
            if len(started) == free:
                break
            with self._lock:
                if request_id in self._in_flight or not self._due(request_id):
                    continue
                self._in_flight.add(request_id)
            self._last_started = request_id
            started.append(request_id)
            self._pool.submit(self._advance, request_id)
        return started

    def idle(self) -> bool:
        """Whether no run is in flight (tests wait for it)."""
        with self._lock:
            return not self._in_flight

    def _fair(self, candidates: list[int]) -> list[int]:
        """Round-robin from after the last started id, so low ids cannot starve high ones."""
        after = [i for i in candidates if i > self._last_started]
        return after + [i for i in candidates if i <= self._last_started]

    def _due(self, request_id: int) -> bool:
        backoff = self._backoff.get(request_id)
        return backoff is None or backoff.not_before <= time.monotonic()

    def _advance(self, request_id: int) -> None:
        progressed = failed = False
        try:
            self._set_up_thread()
            with self._claim(request_id) as claimed:
                if not claimed:
                    self.stats.skipped_claimed += 1
                    return
                self.stats.runs += 1
                progressed = self.run(request_id)
        except Exception:  # a failed run is retried with backoff, never dropped
            failed = True
            self.stats.failed += 1
            # Prefect records the failed run with its traceback; this says which request.
            log.exception("advance of request %s failed; it will be retried", request_id)
        finally:
            self._settle(request_id, progressed, failed)

    def _set_up_thread(self) -> None:
        """Run `thread_setup` once in this worker thread, before its first run that gets there."""
        if self.thread_setup is not None and not getattr(self._thread_ready, "done", False):
            self.thread_setup()
            self._thread_ready.done = True

    def _settle(self, request_id: int, progressed: bool, failed: bool) -> None:
        """Release the request; back off if its work is still there and nothing moved."""
        pending = True  # unknown until read: back off rather than spin
        try:
            with self._reads() as session:
                pending = progressed is False and has_pending_work(
                    session, request_id, self.clock()
                )
        finally:
            # Released whatever happened above: a request left "in flight" is never run again.
            with self._lock:
                self._in_flight.discard(request_id)
                if progressed or not pending:
                    self._backoff.pop(request_id, None)
                else:
                    backoff = self._backoff.setdefault(request_id, _Backoff())
                    delay = backoff_delay(backoff.failures, failed=failed)
                    backoff.failures += 1
                    backoff.not_before = time.monotonic() + delay
            self._wake.set()

    @contextmanager
    def _claim(self, request_id: int) -> Iterator[bool]:
        """Hold the request's claim for the run; False when another runner holds it."""
        if not self._postgres:
            yield True
            return
        with self.engine.connect() as connection:
            if not _try_lock(connection, request_id):
                yield False
                return
            try:
                yield True
            finally:
                _unlock(connection, request_id)

    def _listen(self, stop: threading.Event) -> None:
        """Wake the dispatcher on each NOTIFY; reconnect if the connection drops."""
        conninfo = _conninfo(self.engine)
        while not stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(PENDING_CHANNEL)))
                    self._wake.set()  # anything recorded while not listening
                    while not stop.is_set():
                        if _readable(connection, self.poll_seconds or 1.0):
                            for _ in connection.notifies(timeout=0):
                                self.stats.woken += 1
                            self._wake.set()
            except psycopg.OperationalError as exc:
                # The poll goes on meanwhile; only the early wake-up is missing.
                log.warning("advance listener lost PostgreSQL (%s); reconnecting", exc)
                stop.wait(1.0)


def backoff_delay(attempts: int, *, failed: bool) -> float:
    """Seconds a request waits after `attempts` earlier runs that left its work behind."""
    ceiling = MAX_BACKOFF if failed else MAX_IDLE_BACKOFF
    return min(ceiling, FIRST_BACKOFF * 2.0 ** min(attempts, 16))


def _readable(connection: psycopg.Connection[object], timeout: float) -> bool:
    ready, _, _ = select.select([connection.fileno()], [], [], timeout)
    return bool(ready)


def _try_lock(connection: Connection, request_id: int) -> bool:
    locked = connection.execute(
        text("SELECT pg_try_advisory_lock(:namespace, :id)"),
        {"namespace": CLAIM_LOCK_NAMESPACE, "id": request_id},
    ).scalar_one()
    connection.commit()
    return bool(locked)


def _unlock(connection: Connection, request_id: int) -> None:
    connection.execute(
        text("SELECT pg_advisory_unlock(:namespace, :id)"),
        {"namespace": CLAIM_LOCK_NAMESPACE, "id": request_id},
    )
    connection.commit()


def _conninfo(engine: Engine) -> str:
    """A libpq connection string for the engine's database (psycopg wants no driver name)."""
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
