"""Prefect tasks of the SLA watchdog: thin wrappers over `govflow.sla_watchdog`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from govflow.effects import EffectContext
from govflow.request_clocks import refresh_roots
from govflow.runtime import Runtime
from govflow.sla_watchdog import WatchdogReport, redrive_stalled, sweep_due
from integrations.db.requests import find_request


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


@task(name="refresh-root-cards", cache_policy=NO_CACHE)
def refresh_root_cards(runtime: Runtime, jira_keys: list[str], now: datetime) -> int:
    """Show the new clock states on the root cards of the requests the watchdog touched."""
    context = EffectContext(rules=runtime.rules, jira_browse_url=runtime.jira.browse_url)
    with runtime.sessions.begin() as session:
        ids = [row.id for key in jira_keys if (row := find_request(session, key)) is not None]
        return refresh_roots(session, ids, context, now)
