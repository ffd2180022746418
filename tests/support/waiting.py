"""Waiting in tests for work that finishes after the call that started it (a run, an ack)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], *, timeout: float, what: str = "", interval: float = 0.1
) -> T:
    """The first truthy result of `check`, polled every `interval` s; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        # The deadline is tested after a check, so the wait ends with one last look.
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or 'the condition'}")
        time.sleep(interval)
