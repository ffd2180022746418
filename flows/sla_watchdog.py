"""The SLA watchdog flow: fire due SLA thresholds, re-drive stalled requests, deliver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prefect import flow

from govflow.publishing import publish_changes_now, publish_timelines
from govflow.runtime import Runtime, utc_now
from govflow.schedules import keep_watchdog_scheduled, prune
from tasks.intake import deliver_effects
from tasks.sla import fire_due_clocks, redrive_stalled_requests, refresh_root_cards

Trigger = Callable[[int], object]


def _run_name() -> str:
    return f"sla-watchdog · {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z"


def advance_trigger() -> Trigger:
    """`flows.advance.run_advance`: runs `advance` here, as a subflow of the watchdog's run."""
    # Imported when a run starts: the advance flow imports the Prefect UI artifacts and the
    # whole effect machinery, which neither this module's import nor its tests need.
    from flows.advance import run_advance

    return run_advance


@flow(name="sla-watchdog", flow_run_name=_run_name, log_prints=True)
def sla_watchdog(limit: int = 1000, trigger: Trigger | None = None) -> dict[str, Any]:
    """Fire every SLA warning and breach that is due, re-drive stalled requests, deliver.

    `trigger` advances one request id; by default `flows.advance.run_advance`. The runners'
    dispatchers normally take every request within a second; this re-drive is the last net,
    for requests whose work waited longer than `govflow.sla_watchdog.STALLED_AFTER`.
    """
    runtime = Runtime.load()
    now = utc_now()
    fired = fire_due_clocks(runtime, now, limit)
    refresh_root_cards(runtime, fired.keys, now)
    redriven = redrive_stalled_requests(runtime, now, trigger or advance_trigger())
    delivery = deliver_effects(runtime)
    if fired.fired or redriven:
        publish_changes_now(runtime)  # the board and the SLA events, before the process ends
        publish_timelines(runtime, fired.keys)
    # The next run when the next clock falls due, not on a timer (govflow.schedules).
    next_run = keep_watchdog_scheduled(runtime.sessions, runtime.settings, utc_now(), ran_at=now)
    pruned = prune(runtime.settings, now)
    return {
        "due_clocks": fired.selected,
        "warnings": fired.warnings,
        "breaches": fired.breaches,
        "effects_queued": fired.effects,
        "requests": fired.keys,
        "redriven": len(redriven),
        "delivered": delivery.sent,
        "deferred": delivery.deferred,
        "dead": delivery.dead,
        "next_run": str(next_run) if next_run else None,
        "pruned_runs": pruned,
    }
