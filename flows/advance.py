"""The `advance` flow: one request, its new events applied, its effects delivered.

Receivers start it through `trigger_advance`, which submits the `advance-request` background
task; the runner's task worker picks it up in an already-warm process (DESIGN decision 2).
"""

from __future__ import annotations

import contextvars
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.run_tags import add_run_tags, rename_run
from govflow.runtime import Runtime
from integrations.prefect_ui.artifacts import publish_board, publish_request_timeline
from tasks.advance import apply_events, deliver_request_effects


@flow(name="advance", flow_run_name="request {request_id} · advance")
def advance(request_id: int) -> dict[str, Any]:
    """Apply a request's new events and deliver what they cause."""
    runtime = Runtime.load()
    summary = apply_events(runtime, request_id)
    delivery = deliver_request_effects(runtime, request_id)
    publish_request_timeline(runtime, request_id)
    publish_board(runtime)
    rename_run(f"{summary.jira_key} · {summary.stage_after}")
    add_run_tags([summary.jira_key, summary.stage_after, *(summary.holder or "").split(",")])
    return {
        "jira_key": summary.jira_key,
        "stage": summary.stage_after,
        "applied": summary.applied,
        "refused": summary.refused,
        "delivered": delivery.sent,
        "deferred": delivery.deferred,
    }


@task(name="advance-request", cache_policy=NO_CACHE)
def advance_request_task(request_id: int) -> dict[str, Any]:
    """Background task form of `advance`, served by the runner's task worker."""
    return advance(request_id)


def trigger_advance(request_id: int) -> None:
    """Ask Prefect to run `advance` for the request soon; returns without waiting."""
    # Submitted from an empty context: inside a run (the watchdog's re-drive task) Prefect
    # would store the caller's run context with the submission, the task's parameters
    # included, and the Runtime there (engines, live clients) cannot be pickled.
    contextvars.Context().run(advance_request_task.delay, request_id)
