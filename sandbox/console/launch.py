"""How `govflow serve` starts the console, and how other commands find a running sandbox.

While `govflow serve` runs the stand-ins it keeps `<data dir>/sandbox/serve.json`: its pid,
the sandbox's ledger URL, the console's and the Prefect UI's addresses. `govflow sla ...`
and `govflow sop ...` read it, so they look at the running sandbox's ledger without being
told (GOVFLOW_DATABASE_URL, when set, still wins).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

CONSOLE_PORT = 8400
SERVE_FILE = Path("sandbox") / "serve.json"


@dataclass(frozen=True)
class RunningSandbox:
    """What a running `govflow serve` with stand-ins told the rest of the machine."""

    pid: int
    database_url: str
    console_url: str
    prefect_ui_url: str | None


def console_argv(port: int) -> list[str]:
    """The console's command line; it reads the stand-ins' URLs from its environment."""
    return [sys.executable, "-m", "sandbox.console", "--port", str(port)]


def write_serve_file(data_dir: Path, sandbox: RunningSandbox) -> Path:
    """Record the running sandbox under `data_dir` (replacing an older record)."""
    path = data_dir / SERVE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(sandbox), indent=2) + "\n", encoding="utf-8")
    return path


def running_sandbox(data_dir: Path) -> RunningSandbox | None:
    """The sandbox a live `govflow serve` recorded under `data_dir`, or None."""
    path = data_dir / SERVE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = RunningSandbox(
            pid=int(data["pid"]),
            database_url=str(data["database_url"]),
            console_url=str(data["console_url"]),
            prefect_ui_url=data.get("prefect_ui_url"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if _alive(found.pid) else None


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (a stale file outlives its serve)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
