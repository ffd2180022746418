"""Prefect tasks of the SLA watchdog: thin wrappers over `govflow.clocks`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from govflow.clocks import WatchdogReport, redrive_stalled, sweep_due
from govflow.runtime import Runtime


@task(name="fire-due-clocks", cache_policy=NO_CACHE)
def fire_due_clocks(runtime: Runtime, now: datetime, limit: int) -> WatchdogReport:
    """Fire every SLA threshold due by `now`, as outbox effects, in batches of `limit`."""
    return sweep_due(runtime.sessions, runtime.rules, now, limit=limit)


@task(name="redrive-stalled-requests", cache_policy=NO_CACHE)
def redrive_stalled_requests(
    runtime: Runtime, now: datetime, trigger: Callable[[int], object]
) -> list[int]:
    """Start `advance` again for requests whose events nobody applied (a lost trigger)."""
    return redrive_stalled(runtime.sessions, now, trigger)
