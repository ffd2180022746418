"""When the Prefect UI is published: the board's debounce folds a burst of changes into one."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from govflow.publishing import MAX_RETRIES, Debounced
from govflow.runtime import Runtime
from tests.support.waiting import eventually


class TestDebounced:
    def make(self) -> tuple[Debounced, list[object]]:
        served: list[object] = []
        return Debounced(served.append, interval=3600), served

    def test_first_call_is_served_at_once_off_the_callers_thread(self) -> None:
        """Nothing published lately: publish now, but on the timer's thread, not the caller's.

        The caller is an advance run whose click waits; a publication takes seconds under load.
        """
        threads: list[str] = []
        done = threading.Event()

        def publish(value: object) -> None:
            threads.append(threading.current_thread().name)
            done.set()

        Debounced(publish, interval=3600)(runtime("a"))
        assert done.wait(10)
        assert threads == ["board-publisher"]

    def test_a_burst_is_folded_into_one_with_the_last_call(self) -> None:
        """Calls within the interval wait; the one publication serves the latest."""
        debounced, served = self.make()
        debounced(runtime("a"))
        eventually(lambda: served, timeout=10, interval=0.01)
        assert served == [runtime("a")]
        debounced(runtime("b"))
        debounced(runtime("c"))
        assert served == [runtime("a")]
        debounced.flush()
        assert served == [runtime("a"), runtime("c")]
        debounced.flush()
        assert served == [runtime("a"), runtime("c")]

    def test_a_failed_publication_is_tried_again_and_the_timer_lives_on(self) -> None:
        """Prefect down: the board is tried again, later, and a newer call is what it shows.

        Before, the exception ended the timer's thread ("Exception in thread board-publisher"),
        and the board stayed stale until the next change (test_lost_triggers' runner.log).
        """
        served: list[object] = []
        failures = [RuntimeError("Prefect is restarting")] * 2

        def publish(value: object) -> None:
            if failures:
                if value == runtime("a"):
                    debounced(runtime("b"))  # a change while the first publication fails
                raise failures.pop()
            served.append(value)

        debounced = Debounced(publish, interval=0.05)
        debounced(runtime("a"))
        eventually(lambda: served, timeout=10, interval=0.01)
        assert served == [runtime("b")]
        assert failures == []
        debounced(runtime("c"))  # the timer still works after failures
        eventually(lambda: len(served) >= 2, timeout=10, interval=0.01)
        assert served == [runtime("b"), runtime("c")]

    def test_retries_end_and_the_next_call_publishes(self) -> None:
        """A Prefect server gone for good is not retried forever; the next change still is."""
        attempts: list[object] = []
        up = threading.Event()

        def publish(value: object) -> None:
            attempts.append(value)
            if not up.is_set():
                raise RuntimeError("Prefect is gone")

        debounced = Debounced(publish, interval=0.001)
        debounced(runtime("a"))
        eventually(lambda: len(attempts) >= MAX_RETRIES + 1, timeout=10, interval=0.01)
        time.sleep(0.2)
        assert attempts == [runtime("a")] * (MAX_RETRIES + 1)
        up.set()
        debounced(runtime("b"))
        eventually(lambda: attempts[-1] == runtime("b"), timeout=10, interval=0.01)
        assert attempts[-1] == runtime("b")


def runtime(name: str) -> Runtime:
    """A stand-in runtime: Debounced only passes it on."""
    return cast(Runtime, _Named(name))


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Named) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)
