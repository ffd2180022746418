"""Starting a local Prefect server as a child process, for the embedded default and tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from govflow.waiting import wait_for_http
from sandbox.server import bind_loopback

LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    sock = bind_loopback(0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """Environment for a Prefect process whose state lives under `home`."""
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def prefect_server_command(
    home: Path, *, port: int, ui: bool = True
) -> tuple[list[str], dict[str, str], str]:
    """argv, environment and API URL of `prefect server start` on 127.0.0.1 with state in `home`."""
    home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{port}/api"
    env = prefect_env(home)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_UI_ENABLED"] = "true" if ui else "false"
    env["PREFECT_SERVER_API_HOST"] = "127.0.0.1"
    env["PREFECT_SERVER_API_PORT"] = str(port)
    # Deployment concurrency slots (intake and sla-watchdog run one at a time) are held by
    # leases. Kept in memory, a server restart forgets every lease while the slots stay
    # taken, so both deployments cancel every new run for good; on disk under PREFECT_HOME a
    # lease survives the restart and expires if its run died with its runner.
    env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] = LEASE_STORAGE
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    return [*argv, "--port", str(port)], env, api_url


def start_prefect_server(
    home: Path,
    *,
    port: int | None = None,
    ui: bool = True,
    timeout: float = 90.0,
    log_path: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `prefect server start` on 127.0.0.1 and wait until it answers; (process, API URL)."""
    argv, env, api_url = prefect_server_command(home, port=port or free_port(), ui=ui)
    log = open(log_path or home / "server.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until_healthy(api_url, process, timeout)
    except BaseException:
        # A server that never answered must not be left running (nor one whose wait was
        # interrupted).
        process.kill()
        process.wait()
        raise
    return process, api_url


def wait_until_healthy(
    api_url: str,
    process: subprocess.Popen[bytes],
    timeout: float,
    abort: Callable[[], bool] | None = None,
) -> None:
    """Poll the server's health endpoint until it answers 200 or the process dies."""
    wait_for_http(
        f"{api_url}/health",
        process,
        timeout,
        what=f"prefect server at {api_url}",
        require_ok=True,
        interval=0.25,
        abort=abort,
    )
