"""Supervisor.stop: the order of the tiers, and a second stop signal hurrying the stop.

The children are small real processes under real guards; what each saw is written to a file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from config.loader import load_rules
from config.settings import DEFAULT_RULES, load_settings
from govflow.supervisor import Supervisor

# A stand-in for the Prefect server: stops at once on SIGTERM.
SERVER = """
import os, signal, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.05)
"""

# A stand-in for the runner: on SIGTERM it finishes its work, which needs the server.
RUNNER = """
import os, signal, sys, time
def stop(*_):
    time.sleep(0.5)  # finishing the run in hand
    server = int(open(sys.argv[1]).read())
    try:
        os.kill(server, 0)
        alive = "alive"
    except ProcessLookupError:
        alive = "gone"
    open(sys.argv[2], "w").write(alive)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[3], "w").write("ready")
while True:
    time.sleep(0.05)
"""

# A child that will not stop politely.
STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: None)
open(sys.argv[1], "w").write("ready")
while True:
    time.sleep(0.05)
"""


def supervisor(tmp_path: Path, said: list[str]) -> Supervisor:
    """A supervisor whose logs go under `tmp_path`."""
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path)})
    sup = Supervisor(settings, load_rules(DEFAULT_RULES), say=said.append)
    (tmp_path / "logs").mkdir()
    return sup


def wait_for_file(path: Path) -> None:
    """Until a child has written `path` (it has started and set its handlers)."""
    while not path.exists() or not path.read_text():
        time.sleep(0.01)


class TestStopOrder:
    """The receiver and runner stop while the server they use still runs."""

    def test_runner_finishes_while_the_server_still_runs(self, tmp_path: Path) -> None:
        """The old stop signalled every child at once: the server was gone before the runner."""
        said: list[str] = []
        sup = supervisor(tmp_path, said)
        pid_file, seen = tmp_path / "server.pid", tmp_path / "seen"
        sup._spawn("prefect", [sys.executable, "-c", SERVER, str(pid_file)], "server")
        wait_for_file(pid_file)
        ready = tmp_path / "runner.ready"
        runner = [sys.executable, "-c", RUNNER, str(pid_file), str(seen), str(ready)]
        sup._spawn("runner", runner, "runner")
        wait_for_file(ready)
        sup.stop(grace=60)
        assert seen.read_text() == "alive"
        assert sup.children == [] and not any("killing" in line for line in said)


class TestHurry:
    """A second stop signal turns the wait for a polite stop into SIGKILL."""

    def test_a_second_signal_kills_what_does_not_stop(self, tmp_path: Path) -> None:
        """With a grace longer than the test's timeout, only the hurry can end this stop."""
        said: list[str] = []
        sup = supervisor(tmp_path, said)
        ready = tmp_path / "stubborn.ready"
        sup._spawn("runner", [sys.executable, "-c", STUBBORN, str(ready)], "stubborn")
        wait_for_file(ready)
        sup.request_stop()
        sup.request_stop()
        sup.stop(grace=3600)
        assert said[-1] == "runner did not stop in time; killing it"
        assert sup.children == []
