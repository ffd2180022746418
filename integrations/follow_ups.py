"""Work a receiver does after it has answered, yielding the CPU to the answers still owed.

Slack wants every click acknowledged within 3 seconds; the `advance` trigger, ephemeral
messages and `views.open` that follow a click do not block the answer, but on a small
machine they compete with it: one `advance` submission costs the receiver 20-40 ms of CPU in
Prefect's client, and the Prefect server as much again. Under a burst of clicks, running
them as soon as each click is answered pushes the answers to the clicks behind it back.

`FollowUps` is an executor that holds each job until no request is being answered, or until
the job has waited `max_wait` seconds since it was submitted, whichever comes first. The
bound is counted from submission, so a steady stream of requests delays follow-ups by at
most `max_wait`, never indefinitely. A single request (the common case) is answered before
its own follow-up is submitted, so it waits for nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Long enough for a burst of 20 clicks to be answered on 2 CPUs (about 100-150 ms), short
# enough that `advance` still starts well within a second of the click.
DEFAULT_MAX_WAIT_S = 0.4


class FollowUps(Executor):
    """An executor whose jobs start once no request is being answered (or after `max_wait`)."""

    def __init__(
        self,
        *,
        workers: int,
        max_wait: float = DEFAULT_MAX_WAIT_S,
        name: str = "follow-up",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._max_wait = max_wait
        self._monotonic = monotonic
        self._answering = 0
        self._pending = 0
        self._quiet = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Mark one request as being answered for the duration of the block."""
        with self._quiet:
            self._answering += 1
        try:
            yield
        finally:
            with self._quiet:
                self._answering -= 1
                if self._answering == 0:
                    self._quiet.notify_all()

    @property
    def answering_now(self) -> int:
        """How many requests are being answered at this moment."""
        with self._quiet:
            return self._answering

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn(*args, **kwargs)` to run once answers are out (or `max_wait` has passed)."""
        deadline = self._monotonic() + self._max_wait

        def when_quiet() -> T:
            try:
                self._wait_until_quiet(deadline)
                return fn(*args, **kwargs)
            finally:
                with self._quiet:
                    self._pending -= 1
                    self._quiet.notify_all()

        with self._quiet:
            self._pending += 1
        return self._pool.submit(when_quiet)

    def join(self, timeout: float) -> bool:
        """Wait until every job submitted so far has finished; False if `timeout` ran out."""
        deadline = time.monotonic() + timeout
        with self._quiet:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._quiet.wait(left)
        return True

    def _wait_until_quiet(self, deadline: float) -> None:
        with self._quiet:
            while self._answering:
                left = deadline - self._monotonic()
                if left <= 0:
                    return
                self._quiet.wait(left)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; with `wait`, let the queued ones finish."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
