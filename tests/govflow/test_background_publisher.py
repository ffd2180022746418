"""Publications off the click's path: one thread, each request once per batch, failures logged."""

from __future__ import annotations

import threading
from typing import cast

import pytest

from govflow.background_publisher import BackgroundPublisher
from govflow.runtime import Runtime

RUNTIME = cast(Runtime, object())


class TestBackgroundPublisher:
    def test_publishes_on_its_own_thread_and_folds_repeats(self) -> None:
        """Ten submissions of one request while the thread is busy: published twice at most."""
        busy = threading.Event()
        release = threading.Event()
        calls: list[tuple[int, str]] = []

        def publish(runtime: Runtime, request_id: int) -> None:
            calls.append((request_id, threading.current_thread().name))
            if request_id == 1:
                busy.set()
                release.wait(10)

        publisher = BackgroundPublisher(publish, name="journeys")
        publisher.submit(RUNTIME, 1)
        assert busy.wait(10)
        for _ in range(10):
            publisher.submit(RUNTIME, 2)
        release.set()
        assert publisher.wait_idle(10)
        assert calls == [(1, "journeys"), (2, "journeys")]

    def test_a_failed_publication_is_logged_and_the_next_goes_on(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The thread outlives a failing publication (Prefect down): the next one is made."""
        done: list[int] = []

        def publish(runtime: Runtime, request_id: int) -> None:
            if request_id == 1:
                raise ConnectionError("Prefect is down")
            done.append(request_id)

        publisher = BackgroundPublisher(publish, name="journeys")
        publisher.submit(RUNTIME, 1)
        assert publisher.wait_idle(10)
        publisher.submit(RUNTIME, 2)
        assert publisher.wait_idle(10)
        assert done == [2]
        assert "publishing request 1 failed" in caplog.text
