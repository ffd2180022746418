"""The runner process: serves govflow's deployments from this machine (`govflow serve`)."""

from __future__ import annotations

import threading
from typing import cast

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.task_worker import serve as serve_tasks

from config.settings import Settings, load_settings
from flows.advance import advance_request_task
from flows.intake import intake
from flows.sla_watchdog import sla_watchdog

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
                interval=settings.intake_interval_seconds,
                tags=["govflow", "intake"],
                description="Poll Jira for new and changed requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
        cast(
            RunnerDeployment,
            sla_watchdog.to_deployment(
                name="sla-watchdog",
                interval=settings.watchdog_interval_seconds,
                tags=["govflow", "sla"],
                description="Fire due SLA warnings and breaches; re-drive stalled requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
    ]


def main() -> None:
    """Serve every deployment, and the background tasks receivers submit, until interrupted."""
    settings = load_settings()
    # The task worker runs `advance` in this already-warm process; see DESIGN decision 2.
    worker = threading.Thread(
        target=serve_tasks,
        args=(advance_request_task,),
        kwargs={"limit": 8},
        name="task-worker",
        daemon=True,
    )
    worker.start()
    serve(*deployments(settings), print_starting_message=False)


if __name__ == "__main__":
    main()
