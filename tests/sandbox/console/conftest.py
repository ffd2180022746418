"""One `govflow serve` for the console's tests, started as `make run` starts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from govflow.guard import parent_death_signal
from govflow.prefect_server import free_port


@dataclass(frozen=True)
class SandboxServe:
    """A running `govflow serve` with stand-ins: where its pieces answer."""

    console_url: str
    prefect_ui_url: str | None
    data_dir: Path | None
    env: dict[str, str]


@pytest.fixture(scope="session")
def sandbox_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServe]:
    """A fresh `govflow serve` in a temporary data dir (or GOVFLOW_CONSOLE_URL's console)."""
    given = os.environ.get("GOVFLOW_CONSOLE_URL")
    if given:
        yield SandboxServe(given, os.environ.get("GOVFLOW_PREFECT_UI_URL"), None, {})
        return
    work = tmp_path_factory.mktemp("serve")
    env = {
        k: v
        for k, v in os.environ.items()
        # Like a fresh clone: not the test session's Prefect server, no external services.
        if not k.startswith(("PREFECT_", "GOVFLOW_"))
    }
    env.update(
        GOVFLOW_DATA_DIR=str(work / "data"),
        GOVFLOW_RECEIVER_PORT=str(free_port()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    log = (work / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "govflow", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # A test run killed outright (a timeout's SIGKILL) must not leave serve behind: the
        # kernel sends it SIGTERM when this process dies, and serve stops its children.
        preexec_fn=parent_death_signal(signal.SIGTERM),
    )
    try:
        record = _wait_for_console(work / "data" / "sandbox" / "serve.json", serve, work)
        yield SandboxServe(record["console_url"], record.get("prefect_ui_url"), work / "data", env)
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()
        log.close()


def _wait_for_console(record: Path, serve: subprocess.Popen[bytes], work: Path) -> dict[str, str]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise AssertionError(f"govflow serve exited:\n{(work / 'serve.log').read_text()}")
        if record.exists():
            data: dict[str, str] = json.loads(record.read_text())
            if httpx.get(f"{data['console_url']}/healthz", timeout=5).status_code == 200:
                return data
        time.sleep(0.5)
    raise AssertionError(f"no console within 180 s:\n{(work / 'serve.log').read_text()}")
