"""Starting a local Prefect server as a child process, for the embedded default and tests.

A port that looked free may be taken before the server binds it: `prefect server start`
checks the port, then spends seconds importing and migrating before uvicorn binds, so two
servers started together on the same port both pass the check and one fails to bind. Worse,
the loser's health check may be answered by the winner before the loser exits, and it would
carry on with a server that is not its own (one that stops when its owner stops). So a start
waits for the server *it* started (`wait_until_ours`: the answering server keeps its state in
our PREFECT_HOME) and, when another server has the port, starts again on another one.

Holding the bound socket until the server takes it over is not possible here: Prefect's CLI
takes no inherited socket, and its own port check binds without sharing. A lock file shared
by every govflow on the machine would serialise starts (40 s each on a loaded machine) and
still lose to anything else that takes the port; checking the answer catches every case.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from govflow.waiting import wait_for_http
from sandbox.server import bind_loopback

LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
# Starts on a fresh port after finding the one chosen taken by another server.
PORT_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """Another server has the port a Prefect server was started on: start on another port."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (it may be taken later)."""
    sock = bind_loopback(0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def port_free(port: int) -> bool:
    """Whether nothing is bound to `port` on 127.0.0.1 right now."""
    try:
        bind_loopback(port).close()
    except OSError:
        return False
    return True


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
    prefer: int | None = None,
    ui: bool = True,
    timeout: float = 90.0,
    log_path: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `prefect server start` on 127.0.0.1 and wait until it answers; (process, API URL)."""
    home.mkdir(parents=True, exist_ok=True)

    def launch(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(log_path or home / "server.log", "ab") as log:
            return subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    return start_own_server(home, launch, port=port, prefer=prefer, ui=ui, timeout=timeout)


def start_own_server(
    home: Path,
    launch: Callable[[list[str], dict[str, str]], subprocess.Popen[bytes]],
    *,
    port: int | None = None,
    prefer: int | None = None,
    ui: bool = True,
    timeout: float = 90.0,
    abort: Callable[[], bool] | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a Prefect server of our own with `launch` (in a new session); (process, API URL).

    On `port` if given (PortTaken if another server has it); else on `prefer` if it looks
    free, else on a free port; on another free port each time another server took the one
    chosen. A server that did not come up is killed with its process group.
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        usual = prefer if attempt == 1 and prefer and port_free(prefer) else None
        argv, env, api_url = prefect_server_command(home, port=port or usual or free_port(), ui=ui)
        process = launch(argv, env)
        try:
            wait_until_ours(api_url, process, home, timeout, abort)
        except PortTaken as taken:
            _end(process)
            if port is not None or attempt == PORT_ATTEMPTS:
                raise
            if say is not None:
                say(f"prefect     {taken}; starting on another port")
            continue
        except BaseException:
            # A server that never answered must not be left running (nor one whose wait was
            # interrupted).
            _end(process)
            raise
        return process, api_url
    raise AssertionError("unreachable: the last attempt returns or raises")


def stop_prefect_server(process: subprocess.Popen[bytes], *, timeout: float = 20.0) -> None:
    """Stop a server `start_prefect_server` started: SIGTERM, then SIGKILL after `timeout` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _end(process: subprocess.Popen[bytes]) -> None:
    # Its whole group: a guard or Prefect's CLI may have started the server below it.
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until_ours(
    api_url: str,
    process: subprocess.Popen[bytes],
    home: Path,
    timeout: float,
    abort: Callable[[], bool] | None = None,
) -> None:
    """Wait until the server we started (`process`, state in `home`) answers at `api_url`.

    PortTaken if another server answers there, or if ours exited while the port is taken.
    """
    try:
        wait_until_healthy(api_url, process, timeout, abort)
    except RuntimeError as error:
        port = _port_of(api_url)
        if process.poll() is not None and not port_free(port):
            raise PortTaken(f"port {port} was taken by another server") from error
        raise
    if abort is not None and abort():
        return
    if not serves_from(api_url, home, process):
        raise PortTaken(f"{api_url} answers with a Prefect server that is not ours")


def serves_from(api_url: str, home: Path, process: subprocess.Popen[bytes]) -> bool:
    """Whether the server at `api_url` keeps its state in `home` and `process` still runs."""
    try:
        answer = httpx.get(f"{api_url}/admin/settings", timeout=10)
        answer.raise_for_status()
    except httpx.HTTPError:
        return False  # a server that cannot say where its state lives is not known to be ours
    theirs = str(answer.json().get("home", ""))
    # Ours binds after its port check; another server may answer until ours gives up.
    return process.poll() is None and Path(theirs).resolve() == home.resolve()


def _port_of(api_url: str) -> int:
    return int(api_url.rsplit(":", 1)[1].split("/")[0])


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
