"""`govflow serve` leaves no process behind, however a user or an init system stops it.

Each test starts the real `govflow serve` (stand-ins, runner, receiver; one test also its own
Prefect server), records every process it started (walking /proc for descendants), stops it
one way, and finds none of them left after 15 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govflow.prefect_server import free_port
from sandbox.server import bind_loopback

pytestmark = [
    pytest.mark.prefect,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="walks /proc"),
]

GOVFLOW = str(Path(sys.executable).with_name("govflow"))
READY = "govflow is running"
LEFT_AFTER_SECONDS = 15.0
# The sandbox console's usual port (sandbox/console): serve takes another one when it is busy.
CONSOLE_PORT = 8400


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it: pid, its start time (pids are reused) and command."""

    pid: int
    started: int
    command: str


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in clock ticks, state) of `pid`, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: split after its closing one.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0]


def descendants(root: int) -> set[Proc]:
    """Every living process below `root`, however deep."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append(int(entry))
    found: set[Proc] = set()
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        found.add(Proc(pid, stat[1], command.strip()))
        todo.extend(parents.get(pid, []))
    return found


def alive(proc: Proc) -> bool:
    """Whether this very process (same pid and start time) still runs (a zombie does not)."""
    stat = _stat(proc.pid)
    return stat is not None and stat[1] == proc.started and stat[2] != "Z"


def serve_env(data_dir: Path, api_url: str | None) -> dict[str, str]:
    """An environment with no Jira or Slack credentials: serve starts the stand-ins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVFLOW_")}
    env.update(
        {
            "GOVFLOW_DATA_DIR": str(data_dir),
            "GOVFLOW_RECEIVER_PORT": str(free_port()),
            "GOVFLOW_INTAKE_INTERVAL_SECONDS": "5",
        }
    )
    if api_url is None:
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_SERVER_API_PORT"] = str(free_port())
    else:
        env["PREFECT_API_URL"] = api_url
    return env


@dataclass
class Serving:
    """A started `govflow serve` (or `make run`), its output file and what it started."""

    top: subprocess.Popen[bytes]
    output: Path
    serve_pid: int
    started: set[Proc]

    def text(self) -> str:
        """What serve printed so far."""
        return self.output.read_text(errors="replace")


def launch(tmp_path: Path, api_url: str | None, *, through_make: bool = False) -> Serving:
    """Start serve in a session of its own, as a terminal or `setsid make run` would."""
    output = tmp_path / "serve.out"
    argv = [GOVFLOW, "serve"]
    if through_make:
        makefile = tmp_path / "Makefile"
        makefile.write_text(f"run:\n\t{GOVFLOW} serve\n")
        argv = [shutil.which("make") or "make", "-f", str(makefile), "run"]
    with output.open("wb") as sink:
        top = subprocess.Popen(
            argv,
            env=serve_env(tmp_path / "data", api_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    return Serving(top, output, top.pid, set())


def wait_ready(serving: Serving, *, through_make: bool) -> None:
    """Wait until serve says it runs; record every process below it."""
    deadline = time.monotonic() + 180
    while READY not in serving.text():
        assert serving.top.poll() is None, f"exited {serving.top.returncode}:\n{serving.text()}"
        assert time.monotonic() < deadline, f"serve did not start:\n{serving.text()}"
        time.sleep(0.2)
    if through_make:
        (serve,) = [p for p in descendants(serving.top.pid) if p.command.endswith(" serve")]
        serving.serve_pid = serve.pid
    serving.started = descendants(serving.top.pid)


def left_behind(serving: Serving) -> list[Proc]:
    """What is still running `LEFT_AFTER_SECONDS` after the stop began."""
    deadline = time.monotonic() + LEFT_AFTER_SECONDS
    while time.monotonic() < deadline:
        if serving.top.poll() is not None and not any(alive(p) for p in serving.started):
            return []
        time.sleep(0.2)
    return [p for p in serving.started if alive(p)]


def kill_left(procs: list[Proc]) -> None:
    """Clean up after a failing test: nothing it started may outlive it."""
    for proc in procs:
        if alive(proc):
            os.kill(proc.pid, signal.SIGKILL)


def ctrl_c(serving: Serving) -> None:
    """Ctrl-C in a terminal: SIGINT to the foreground process group."""
    os.killpg(serving.top.pid, signal.SIGINT)


def ctrl_c_twice(serving: Serving) -> None:
    """An impatient Ctrl-C, then another while the stop is under way."""
    os.killpg(serving.top.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(serving.top.pid, signal.SIGINT)


def sigterm(serving: Serving) -> None:
    """`kill <pid>` of serve, as an init system or a user does."""
    os.kill(serving.serve_pid, signal.SIGTERM)


def sigkill(serving: Serving) -> None:
    """SIGKILL of the supervisor alone (OOM killer, `kill -9`): it cannot stop anything."""
    os.kill(serving.serve_pid, signal.SIGKILL)


def make_group_sigterm(serving: Serving) -> None:
    """`kill -TERM -- -<pgid>` of `setsid make run`: make passes a second SIGTERM on."""
    os.killpg(serving.top.pid, signal.SIGTERM)


STOPS: dict[str, Callable[[Serving], None]] = {
    "ctrl-c": ctrl_c,
    "ctrl-c twice": ctrl_c_twice,
    "sigterm": sigterm,
    "sigkill": sigkill,
    "make run, sigterm to its group": make_group_sigterm,
}
THROUGH_MAKE = "make run, sigterm to its group"


@pytest.fixture
def fleet(prefect_api: str, tmp_path: Path) -> Iterator[dict[str, Serving]]:
    """One serve per way of stopping, started side by side (the suite's time is shared).

    The `make run` one starts its own Prefect server (found left running before). The console
    port is held here so that no two serves race for it. What a failing test leaves is killed.
    """
    try:
        console = bind_loopback(CONSOLE_PORT)
    except OSError:
        console = None  # someone else holds it: just as good
    launched: dict[str, Serving] = {}
    try:
        for how in STOPS:
            make = how == THROUGH_MAKE
            home = tmp_path / how.replace(" ", "-").replace(",", "")
            home.mkdir()
            launched[how] = launch(home, None if make else prefect_api, through_make=make)
        for how, serving in launched.items():
            wait_ready(serving, through_make=how == THROUGH_MAKE)
        yield launched
    finally:
        if console is not None:
            console.close()
        for serving in launched.values():
            kill_left(list(serving.started | descendants(serving.top.pid)))
            if serving.top.poll() is None:
                serving.top.kill()
                serving.top.wait()


class TestServeStops:
    """Every process serve started is gone within 15 s of the stop, however it was stopped."""

    def test_nothing_is_left(self, fleet: dict[str, Serving]) -> None:
        """Stand-ins, runner, receiver (and Prefect server) with their guards and children."""
        for how, serving in fleet.items():
            names = " ".join(p.command for p in serving.started)
            assert "flows.runner" in names and "govflow.receiver" in names, how
            assert "sandbox.jira_server" in names and "sandbox.slack_server" in names, how
        assert any("prefect server start" in p.command for p in fleet[THROUGH_MAKE].started)
        for how, stop in STOPS.items():
            stop(fleet[how])
        left = {how: left_behind(serving) for how, serving in fleet.items()}
        problems = {how: [p.command for p in procs] for how, procs in left.items() if procs}
        assert problems == {}, "\n".join(f"{h}: {fleet[h].text()}" for h in problems)
        for how in ("ctrl-c", "ctrl-c twice", "sigterm"):
            assert fleet[how].text().splitlines()[-1] == "stopped", how
