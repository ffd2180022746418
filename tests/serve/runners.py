"""Runner processes for tests: each serves a deployment of a sleeping flow as flows.runner
serves govflow's (tests/serve/zombie_runner.py), in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound

from tests.support.waiting import eventually

# Shorter than production's 90 s to keep the test short; still more than a heartbeat apart.
AFTER_SECONDS = 45


def flow_run(run_id: UUID) -> FlowRun:
    """The flow run as the server has it now."""
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def state_of(run_id: UUID) -> StateType | None:
    """The type of the run's current state."""
    state = flow_run(run_id).state
    return state.type if state else None


class Runners:
    """Runner processes of one installation, each in a process group of its own."""

    def __init__(self, tmp_path: Path, installation: str | None = None) -> None:
        self.tmp_path = tmp_path
        self.installation = installation or f"zt-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one runner; return once it has set up its automation and is serving."""
        ready = self.tmp_path / f"{name}.ready"
        log = (self.tmp_path / f"{name}.log").open("wb")
        argv = [sys.executable, "-m", "tests.serve.zombie_runner", self.installation]
        # Each runner with a PREFECT_HOME of its own, as on a machine of its own.
        home = self.tmp_path / f"{name}-prefect-home"
        process = subprocess.Popen(
            [*argv, str(AFTER_SECONDS), str(ready)],
            env={**os.environ, "PREFECT_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        eventually(ready.exists, timeout=120, what=f"runner {name} started", interval=0.5)
        eventually(self._registered, timeout=60, what="the deployment registered", interval=0.5)
        return process

    def _registered(self) -> bool:
        try:
            self.deployment_id()
        except ObjectNotFound:
            return False
        return True

    def deployment_id(self) -> UUID:
        """The served deployment's id, once a runner has registered it."""
        name = f"zombie-test-sleeper/{self.installation}-sleeper"
        with get_client(sync_client=True) as client:
            return client.read_deployment_by_name(name).id

    def new_run(self, pid_file: Path) -> UUID:
        """A run of the deployment, picked up by whichever runner polls first."""
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(
                self.deployment_id(), parameters={"pid_file": str(pid_file)}
            )
        return run.id

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """kill -9 of the runner's process group: the runner and its flow-run processes."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Whatever is still running goes."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
