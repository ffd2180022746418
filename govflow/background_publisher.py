"""Prefect UI publications made off the click's path, on one background thread per process.

A request's journey is read from the ledger and the Prefect API and written as an artifact:
0.2-0.5 s under load (`docs/dispatch.md`). Inside the `advance` run that a click waits on,
that time was the click's. Here a run only names its request; a background thread publishes
each named request's journey once, however many runs named it meanwhile. The ledger stays
the truth: a publication that fails is said in the log and made again at the request's next
change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from govflow.runtime import Runtime

log = logging.getLogger(__name__)

Publish = Callable[[Runtime, int], None]


class BackgroundPublisher:
    """Runs `publish(runtime, request_id)` on its own thread, coalescing repeated requests."""

    def __init__(self, publish: Publish, name: str) -> None:
        self._publish = publish
        self._name = name
        self._pending: dict[int, Runtime] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def submit(self, runtime: Runtime, request_id: int) -> None:
        """Publish for this request soon (once, however often it is submitted meanwhile)."""
        with self._lock:
            self._pending[request_id] = runtime
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is waiting to be published (tests, and a runner stopping)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._pending:
                        self._idle.set()
                        break
                    request_id, runtime = self._pending.popitem()
                try:
                    self._publish(runtime, request_id)
                except Exception:  # the next change of the request publishes it again
                    log.warning("publishing request %s failed", request_id, exc_info=True)
