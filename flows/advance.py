"""The `advance` flow: one request, its new events applied, its effects delivered.

The runner's dispatcher (`govflow.dispatch`) starts it in-process for each request whose
work waits in the ledger, as a flow run named `<KEY> · <stage>` (DESIGN decision 2); the
watchdog's re-drive starts it the same way, as a subflow, for a request that waited too long.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from prefect import flow
from prefect.context import SyncClientContext
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)

from flows.run_tags import advance_tags, label_run
from govflow.background_publisher import BackgroundPublisher
from govflow.publishing import publish_board, publish_request_timeline
from govflow.runtime import Runtime
from integrations.db.requests import key_and_stage
from tasks.advance import apply_events, deliver_request_effects

JOURNEYS = BackgroundPublisher(publish_request_timeline, name="journey-publisher")
_threads = threading.local()


def _run_name() -> str:
    parameters = flow_run.parameters
    return f"{parameters.get('jira_key') or 'request ' + str(parameters['request_id'])} · " + (
        parameters.get("stage") or "advance"
    )


# Its result is a summary the ledger already holds: never persisted. The storage is named
# anyway (Prefect's own local default) because without it every run asks the server for its
# default storage block twice (bench field: 11 of 80 samples of the advance threads).
@flow(
    name="advance",
    flow_run_name=_run_name,
    persist_result=False,
    result_storage=get_current_settings().results.local_storage_path,
)
def advance(request_id: int, jira_key: str = "", stage: str = "") -> dict[str, Any]:
    """Apply a request's new events and deliver what they cause.

    `jira_key` and `stage` (as the request stood when the run was started) only name the
    run at its start; at its end it is named and tagged with the stage it reached.
    """
    runtime = Runtime.shared()
    summary = apply_events(runtime, request_id)
    delivery = deliver_request_effects(runtime, request_id)
    JOURNEYS.submit(runtime, request_id)  # published off the click's path
    publish_board(runtime)  # debounced: folded with other runs' into one every few seconds
    # Tags set on the run here, never through `prefect.tags` around the call: tasks inherit
    # those, and a tagged task run takes tag-concurrency slots on the server (API round trips
    # and leases for each task, measured at up to 0.8 s a task on SQLite).
    installation = runtime.settings.installation
    label_run(
        f"{summary.jira_key} · {summary.stage_after}",
        advance_tags(installation, summary.jira_key, summary.stage_after, summary.holder),
    )
    return {
        "jira_key": summary.jira_key,
        "stage": summary.stage_after,
        "applied": summary.applied,
        "refused": summary.refused,
        "delivered": delivery.sent,
        "deferred": delivery.deferred,
    }


def prepare_advance_thread() -> None:
    """Set up a dispatcher thread for many short runs: one Prefect client, no heartbeats.

    Measured on a trivial flow with two tasks (docs/benchmarks.md): 1.8 s a run with
    Prefect's defaults on a loaded machine, 0.85 s without the heartbeat thread (its exit
    waits out a 1 s sleep), 0.39 s reusing one client (a new one builds an SSL context and a
    connection pool each run). Heartbeats tell Prefect a long run's process is alive; an
    advance run lasts under a second, and the ledger, not the run, says what is left to do.
    """
    stack = ExitStack()
    stack.enter_context(temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))
    stack.enter_context(SyncClientContext.get_or_create())
    # Kept open for the thread's life: the runs it serves share the client.
    _threads.contexts = stack


def run_advance(request_id: int) -> bool:
    """Run `advance` for one request as a named flow run; True when it applied or sent anything."""
    with Runtime.shared().reads() as session:
        key, stage = key_and_stage(session, request_id)
    result = advance(request_id, jira_key=key, stage=stage)
    return bool(result["applied"] or result["refused"] or result["delivered"])
