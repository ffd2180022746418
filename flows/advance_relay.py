"""The receiver's `advance` trigger, submitted from a child process at a lower CPU priority.

Submitting the `advance` background task costs 15-25 ms of CPU in Prefect's client (most of
it serializing the settings context that travels with every task run). In the receiver's
own process that CPU competes, under the GIL, with the answers Slack is waiting for: under
bursts of 20 clicks it pushed the answers' p99 past 300 ms (docs/benchmarks.md). The relay
moves the submission into a child process that runs at a higher nice value, so the
operating system hands the CPU to the receiver's answers first.

A trigger the relay could not submit is lost only as a trigger: the event is in the ledger
and the watchdog re-drives every request whose events wait (DESIGN decision 2). The child
writes an `advance_trigger_failed` audit record for each one, as the receiver would.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as EventType

log = logging.getLogger(__name__)

# Enough for the scheduler to prefer the receiver, not so much that a busy machine starves
# the submissions (nice 10 gets about a tenth of a CPU against a nice-0 process).
RELAY_NICENESS = 10
STOP = -1


class AdvanceRelay:
    """An AdvanceTrigger that hands request ids to a lower-priority child process."""

    def __init__(self, niceness: int = RELAY_NICENESS, ready_timeout: float = 60.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._ids: Connection
        self._niceness = niceness
        self._context = context
        self._lock = threading.Lock()
        self._process = self._start(ready_timeout)

    def _start(self, ready_timeout: float) -> SpawnProcess:
        """Start the child and wait until it can submit (it imports Prefect first)."""
        # A one-way pipe of its own for each child: the child gets only the reading end, so
        # when this process ends, however it ends, the child reads end-of-file and exits.
        reader, self._ids = self._context.Pipe(duplex=False)
        # Kept on self: the child opens it after start() returns, and it must still exist.
        self._ready = ready = self._context.Event()
        process = self._context.Process(
            target=relay_main, args=(reader, self._niceness, ready), name="advance-relay"
        )
        process.daemon = True
        process.start()
        reader.close()
        if not ready.wait(ready_timeout):
            log.warning(
                "advance relay not ready after %.0f s; triggers queue until it is", ready_timeout
            )
        return process

    def __call__(self, request_id: int) -> None:
        """Pass `request_id` on, starting the child again if it died."""
        with self._lock:
            if not self._process.is_alive():
                log.warning(
                    "advance relay exited with %s; starting it again", self._process.exitcode
                )
                # Not waiting for it: ids queue meanwhile, and a click is being answered. Ids
                # the dead child had not submitted are lost; the watchdog re-drives them.
                self._process = self._start(ready_timeout=0)
            self._ids.send(request_id)

    @property
    def alive(self) -> bool:
        """Whether the child runs."""
        return self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The child's process id (for tests and operators)."""
        return self._process.pid

    def close(self, timeout: float = 10.0) -> None:
        """Let the child submit what is queued, then stop it."""
        with self._lock:
            if self._process.is_alive():
                self._ids.send(STOP)
                self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()


def relay_main(ids: Connection, niceness: int, ready: EventType) -> None:
    """The child: lower its own priority, then submit `advance` for each id until told to stop."""
    os.nice(niceness)
    # Imported here: the parent must not pay for Prefect's client to start the child.
    from flows.advance import trigger_advance
    from govflow.runtime import Runtime, utc_now
    from integrations.db.audit import record_trigger_failure

    runtime = Runtime.load()
    ready.set()
    while (request_id := _next(ids)) != STOP:
        try:
            trigger_advance(request_id)
        except Exception as exc:  # noqa: BLE001 - any failure is recoverable: the watchdog re-drives
            log.warning("advance trigger for request %s failed: %r", request_id, exc)
            with runtime.sessions.begin() as session:
                record_trigger_failure(session, request_id=request_id, error=exc, at=utc_now())


def _next(ids: Connection) -> int:
    """The next request id, or STOP when the receiver has gone (its end of the pipe closed)."""
    try:
        request_id: int = ids.recv()
    except EOFError:
        return STOP
    return request_id
