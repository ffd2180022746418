"""The one way tests wait for work that finishes later."""

from __future__ import annotations

import pytest

from tests.support.waiting import eventually


class TestEventually:
    def test_returns_the_first_truthy_answer(self) -> None:
        """Falsy answers (None, 0, an empty list) mean not yet; the first truthy one returns."""
        answers: list[object] = [None, 0, [], "ready", "later"]
        pending = iter(answers)
        assert eventually(lambda: next(pending), timeout=5, interval=0) == "ready"

    def test_fails_saying_what_it_waited_for(self) -> None:
        """Past the timeout it fails, naming the wait."""
        with pytest.raises(AssertionError, match=r"not within 0\.05 s: the card"):
            eventually(lambda: None, timeout=0.05, what="the card", interval=0.01)

    def test_looks_once_more_after_the_last_sleep(self) -> None:
        """A sleep that crosses the deadline is followed by one last check, not a failure."""
        calls: list[int] = []

        def second_time() -> bool:
            calls.append(1)
            return len(calls) == 2

        assert eventually(second_time, timeout=0.01, interval=0.05) is True
        assert len(calls) == 2
