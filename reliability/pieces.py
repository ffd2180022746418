"""The pieces `govflow serve` starts, as child processes the soak can kill -9 and restart.

Each piece runs in its own process group (as under `govflow serve`), so a kill reaches the
flow-run processes a runner started too. Output goes to one log file per piece, appended
across restarts, for the secrets scan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from govflow.prefect_server import start_prefect_server
from govflow.waiting import wait_for_http

Launch = Callable[["Piece"], subprocess.Popen[bytes]]


@dataclass
class Piece:
    """One restartable child: how to start it, its log, and what happened to it."""

    name: str
    launch: Launch
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        """Start (or restart) the piece and wait until it is ready."""
        self.process = self.launch(self)
        self.starts += 1

    def alive(self) -> bool:
        """Whether the piece's process is running."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the piece's whole process group, as a crash or an OOM killer would."""
        assert self.process is not None, f"{self.name} was never started"
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after `grace` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()
        # The flow-run children of a runner may outlive their parent; take the group down.
        _signal_group(self.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # A group already gone has nothing left to signal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def module_piece(
    name: str, module: list[str], env: dict[str, str], log: Path, ready_url: str | None = None
) -> Piece:
    """A `python -m <module>` child with `env`, ready once `ready_url` answers (if given)."""

    def launch(piece: Piece) -> subprocess.Popen[bytes]:
        with open(log, "ab") as sink:
            sink.write(f"--- start {piece.starts + 1} at {time.time():.3f}\n".encode())
            sink.flush()
            process = subprocess.Popen(
                [sys.executable, "-m", *module],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if ready_url is not None:
            wait_for_http(ready_url, process, 60.0, what=f"{name} at {ready_url}")
        return process

    return Piece(name, launch, log)


def prefect_piece(home: Path, port: int, log: Path) -> Piece:
    """`prefect server start` on a fixed port and home, so a restart finds its runs again."""

    def launch(piece: Piece) -> subprocess.Popen[bytes]:
        process, _ = start_prefect_server(home, port=port, ui=False, log_path=log)
        return process

    return Piece("prefect", launch, log)
