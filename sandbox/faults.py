"""Fault injection shared by the Jira and Slack stand-ins.

A plan holds, per API method, a queue of one-off faults (for a test that wants exactly two
429s on `chat.postMessage`) and an optional random rate (for a soak). Each stand-in asks
`take(method)` before answering and renders the fault the way its vendor would. A random
fault with `burst` > 1 also fails that many calls of the same method in a row (rate limits
come in bursts), and the plan counts every fault it injected, by kind.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class FaultKind(StrEnum):
    """What goes wrong with one call."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    LATENCY = "latency"
    RESET = "reset"


@dataclass(frozen=True)
class Fault:
    """One injected failure: a 429 with Retry-After, a 5xx, a slow answer or a dropped socket."""

    kind: FaultKind
    status: int = 503
    retry_after: int = 1
    delay: float = 0.0
    # When drawn at random: how many calls of the method in a row it fails.
    burst: int = 1


@dataclass
class RandomFaults:
    """A random fault on a fraction of calls, for soaks; seeded so a run can be repeated."""

    rate: float
    kinds: tuple[Fault, ...]
    rng: random.Random = field(default_factory=lambda: random.Random(0))


class FaultPlan:
    """Thread-safe per-method fault queues plus an optional random rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, deque[Fault]] = {}
        self._random: RandomFaults | None = None
        self.injected: list[tuple[str, Fault]] = []

    def add(self, method: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `method` (`*` for any method) with `fault`."""
        with self._lock:
            self._queued.setdefault(method, deque()).extend([fault] * times)

    def set_random(self, plan: RandomFaults | None) -> None:
        """Inject faults at random on every method from now on (None stops it)."""
        with self._lock:
            self._random = plan

    def clear(self) -> None:
        """Forget every queued and random fault (the record of injected ones stays)."""
        with self._lock:
            self._queued.clear()
            self._random = None

    def take(self, method: str) -> Fault | None:
        """The fault for this call of `method`, if any, recorded as injected."""
        with self._lock:
            fault: Fault | None = None
            for name in (method, "*"):
                queue = self._queued.get(name)
                if queue:
                    fault = queue.popleft()
                    break
            if fault is None and self._random and self._random.rng.random() < self._random.rate:
                fault = self._random.rng.choice(self._random.kinds)
                if fault.burst > 1:
                    self._queued.setdefault(method, deque()).extend([fault] * (fault.burst - 1))
            if fault is not None:
                self.injected.append((method, fault))
            return fault

    def counts(self) -> dict[str, int]:
        """How many faults were injected so far, by kind (`server_error_503`-style for 5xx)."""
        with self._lock:
            injected = list(self.injected)
        counted: dict[str, int] = {}
        for _, fault in injected:
            name = fault.kind.value
            if fault.kind is FaultKind.SERVER_ERROR:
                name = f"{name}_{fault.status}"
            counted[name] = counted.get(name, 0) + 1
        return counted
