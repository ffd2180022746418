"""A runner for the zombie test: serves one deployment of a flow that sleeps, as flows.runner
serves govflow's (heartbeats on, the installation's zombie automation created at start).

    python -m tests.serve.zombie_runner <installation> <seconds-without-heartbeat> <ready-file>
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import cast

from prefect import flow, serve
from prefect.deployments.runner import RunnerDeployment

from flows.runner import ONE_AT_A_TIME
from govflow.zombies import send_heartbeats, watch_for_zombies


@flow(name="zombie-test-sleeper")
def sleeper(pid_file: str) -> None:
    """Record this flow-run process's pid, then sleep far longer than the test."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(3600)


def main(installation: str, after: float, ready: Path) -> None:
    """Start like flows.runner.main, then serve the sleeper until killed."""
    send_heartbeats()
    watch_for_zombies(installation, timedelta(seconds=after))
    deployment = cast(
        RunnerDeployment,
        sleeper.to_deployment(
            name=f"{installation}-sleeper", tags=[installation], concurrency_limit=ONE_AT_A_TIME
        ),
    )
    ready.write_text("started")
    serve(deployment, print_starting_message=False)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
