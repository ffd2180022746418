"""The runner process: serves govflow's deployments from this machine (`govflow serve`)."""

from __future__ import annotations

import logging
import threading
import time
from typing import cast

import httpx
from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment

from config.settings import Settings, load_settings
from flows.advance import JOURNEYS, prepare_advance_thread, run_advance
from flows.intake import intake
from flows.sla_watchdog import sla_watchdog
from flows.weekly_report import weekly_report
from govflow.dispatch import Dispatcher
from govflow.health import serve_runner_health
from govflow.publishing import flush_board
from govflow.runtime import shared_engine, utc_now
from govflow.schedules import intake_interval, watchdog_interval
from govflow.zombies import send_heartbeats, watch_for_zombies

log = logging.getLogger(__name__)

# Mondays 08:00 UTC: the week's cycle-time digest (govflow.digest).
WEEKLY_REPORT_CRON = "0 8 * * 1"
# Waits between tries to serve while the Prefect API does not answer: 1, 2, 4... up to 30 s.
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
# A poll that outlasts its interval must not be joined by a second one doing the same work.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments this runner serves, with schedules from settings.

    Named and tagged with the installation (GOVFLOW_INSTALLATION, e.g. `govflow-intake`): a
    runner serves only its own installation's deployments, so installations sharing a
    Prefect server (staging and production, two teams) never run each other's flows against
    the wrong ledger. Several runners of one installation serve the same deployments; each
    scheduled run goes to one of them, and ONE_AT_A_TIME holds across all of them.
    """
    name = settings.installation
    # `to_deployment` is sync-or-async by context; called from sync code it returns the value.
    return [
        cast(
            RunnerDeployment,
            intake.to_deployment(
                name=f"{name}-intake",
                interval=intake_interval(settings),
                tags=[name, "intake"],
                description="Poll Jira for new and changed requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
        cast(
            RunnerDeployment,
            sla_watchdog.to_deployment(
                name=f"{name}-sla-watchdog",
                interval=watchdog_interval(settings),
                tags=[name, "sla"],
                description="Fire due SLA warnings and breaches; re-drive stalled requests.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
        cast(
            RunnerDeployment,
            weekly_report.to_deployment(
                name=f"{name}-weekly-report",
                cron=WEEKLY_REPORT_CRON,
                tags=[name, "report"],
                description="The week's cycle times as an artifact and in the governance channel.",
                concurrency_limit=ONE_AT_A_TIME,
            ),
        ),
    ]


def main() -> None:
    """Serve every deployment, and advance requests whose work waits in the ledger."""
    settings = load_settings()
    served = deployments(settings)
    # A run whose process died is crashed by Prefect once its heartbeats stop (govflow.zombies),
    # never one that another runner is still running.
    send_heartbeats()
    engine = shared_engine(settings.database_url)
    serve_runner_health(settings, engine, utc_now)
    stop = threading.Event()
    dispatcher = Dispatcher(
        engine=engine,
        run=run_advance,
        clock=utc_now,
        workers=settings.advance_workers,
        thread_setup=prepare_advance_thread,
    )
    # Runs `advance` in this already-warm process, one thread per request in flight.
    thread = threading.Thread(
        target=dispatcher.serve, args=(stop,), name="advance-dispatcher", daemon=True
    )
    thread.start()
    try:
        serve_while_prefect_answers(served, settings.installation)
    finally:
        stop.set()
        thread.join(timeout=10)
        # What the last runs queued for the Prefect UI, while the server is still up.
        JOURNEYS.wait_idle(timeout=5)
        flush_board()


def serve_while_prefect_answers(served: list[RunnerDeployment], installation: str) -> None:
    """Serve the deployments until told to stop; while Prefect does not answer, try again.

    Before it polls, the runner writes its zombie automation and `serve` registers each
    deployment with the API. A Prefect server restarting at that moment (or not up yet) made
    either raise, and the runner ended while its dispatcher was already at work
    (test_lost_triggers, about 1 run in 5 on a busy machine). The dispatcher keeps going
    meanwhile: its runs fail and are retried until Prefect answers.
    """
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            watch_for_zombies(installation)
            serve(*served, print_starting_message=False)
            return  # a stop signal ended it
        except httpx.HTTPStatusError as error:
            if error.response.status_code < 500:
                raise
            reason = f"HTTP {error.response.status_code}"
        except httpx.TransportError as error:
            reason = f"{type(error).__name__}: {error}"
        log.warning("Prefect's API did not answer (%s); serving again in %.0f s", reason, delay)
        time.sleep(delay)
        delay = min(MAX_RETRY_SECONDS, delay * 2)


if __name__ == "__main__":
    main()
