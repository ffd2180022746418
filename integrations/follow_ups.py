"""Work a receiver does after it has answered, yielding the CPU to the answers still owed.

Slack wants every click acknowledged within 3 seconds. What follows a click (the `advance`
trigger, the ephemeral confirmation, `views.open`) does not block the answer, but on a small
machine it competes with the answers to the clicks behind it: under a burst of 20 clicks,
running each follow-up as soon as its click was answered pushed the last answers back.

`FollowUps` is an executor that holds each job until the receiver is quiet (no request being
answered, and none for `QUIET_PERIOD_S`: a burst's requests arrive with small gaps), or until
the job has waited `max_wait` seconds since it was submitted, whichever comes first. The
bound is counted from submission, so a steady stream of requests delays follow-ups by at
most `max_wait`, never indefinitely. A single click, the common case, waits only the quiet
period. (The production trigger costs nothing: the runners take the work from the ledger,
`govflow.dispatch`.)
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

# Long enough to cover a burst of 20 clicks answered on 2 CPUs (100-150 ms) and the next
# burst's too, short enough that under any load `advance` starts within a second or so of
# the click. With nothing else being answered, a follow-up does not wait at all.
DEFAULT_MAX_WAIT_S = 1.0


# How long without a request being answered counts as quiet.
QUIET_PERIOD_S = 0.05


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
        self._last_answered = float("-inf")
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
                self._last_answered = self._monotonic()
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
            while True:
                now = self._monotonic()
                # Quiet means nothing answered for a moment: the requests of a burst arrive
                # spread over tens of milliseconds, with gaps between them.
                calm_at = self._last_answered + QUIET_PERIOD_S
                if not self._answering and now >= calm_at:
                    return
                left = deadline - now
                if left <= 0:
                    return
                self._quiet.wait(min(left, max(calm_at - now, 0.005)))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; with `wait`, let the queued ones finish."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
