"""The runner process: serves govflow's deployments from this machine (`govflow serve`)."""

from __future__ import annotations

import threading
from typing import cast

from prefect import get_client, serve
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import (
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
    StateType,
)
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from config.settings import Settings, load_settings
from flows.advance import run_advance
from flows.intake import intake
from flows.sla_watchdog import sla_watchdog
from govflow.dispatch import Dispatcher
from govflow.health import serve_runner_health
from govflow.runtime import shared_engine, utc_now
from govflow.schedules import intake_interval, watchdog_interval

# A poll that outlasts its interval must not be joined by a second one doing the same work.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments this runner serves, with schedules from settings."""
    # `to_deployment` is sync-or-async by context; called from sync code it returns the value.
    return [
        cast(
            RunnerDeployment,
            intake.to_deployment(
                name="intake",
                interval=intake_interval(settings),
                tags=["govflow", "intake"],
                description="Poll Jira for new and changed requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
        cast(
            RunnerDeployment,
            sla_watchdog.to_deployment(
                name="sla-watchdog",
                interval=watchdog_interval(settings),
                tags=["govflow", "sla"],
                description="Fire due SLA warnings and breaches; re-drive stalled requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
    ]


def crash_interrupted_runs(names: list[str]) -> int:
    """Mark CRASHED the runs of these deployments left running or pending; returns how many.

    A runner killed mid-run (kill -9, OOM) leaves its run RUNNING, holding the deployment's
    one concurrency slot until Prefect's 300 s lease runs out, and meanwhile every new intake
    or watchdog run is cancelled. Called when a runner starts: Prefect 3.9 does not record
    which runner runs a flow run, so with several runners this may also crash one that another
    machine is still running, whose work then overlaps at most one new run (both flows are
    safe to run twice).
    """
    crashed = 0
    active = FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue  # never served before: nothing can be left over
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id]),
                    state=FlowRunFilterState(type=active),
                )
            )
            for run in runs:
                client.set_flow_run_state(
                    run.id, Crashed(message="its runner stopped; a new runner started")
                )
                crashed += 1
    return crashed


def main() -> None:
    """Serve every deployment, and advance requests whose work waits in the ledger."""
    settings = load_settings()
    served = deployments(settings)
    crash_interrupted_runs([f"{d.flow_name}/{d.name}" for d in served])
    engine = shared_engine(settings.database_url)
    serve_runner_health(settings, engine, utc_now)
    stop = threading.Event()
    dispatcher = Dispatcher(
        engine=engine,
        run=run_advance,
        clock=utc_now,
        workers=settings.advance_workers,
    )
    # Runs `advance` in this already-warm process, one thread per request in flight.
    thread = threading.Thread(
        target=dispatcher.serve, args=(stop,), name="advance-dispatcher", daemon=True
    )
    thread.start()
    try:
        serve(*served, print_starting_message=False)
    finally:
        stop.set()
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
