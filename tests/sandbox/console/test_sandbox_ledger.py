"""`govflow sla` and `govflow sop` find the running sandbox's ledger without being told."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.settings import load_settings
from govflow.sandbox_ledger import ledger_to_read
from sandbox.console.launch import RunningSandbox, running_sandbox, write_serve_file


def _record(data: Path, pid: int) -> str:
    ledger = f"sqlite:///{data / 'sandbox' / 'ledger.db'}"
    write_serve_file(data, RunningSandbox(pid, ledger, "http://127.0.0.1:8400", None))
    return ledger


def test_a_running_sandbox_ledger_is_read_and_said(tmp_path: Path) -> None:
    ledger = _record(tmp_path, os.getpid())
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path)})
    url, why = ledger_to_read(settings)
    assert url == ledger
    assert why is not None and "running sandbox's ledger" in why and str(os.getpid()) in why


def test_an_explicit_database_url_wins(tmp_path: Path) -> None:
    _record(tmp_path, os.getpid())
    own = f"sqlite:///{tmp_path / 'mine.db'}"
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path), "GOVFLOW_DATABASE_URL": own})
    assert ledger_to_read(settings) == (own, None)


def test_a_stopped_serve_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _record(tmp_path, int(gone.stdout))
    assert running_sandbox(tmp_path) is None
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path)})
    assert ledger_to_read(settings) == (settings.database_url, None)
    assert settings.database_url.endswith("govflow.db")


def test_no_record_or_a_garbled_one(tmp_path: Path) -> None:
    assert running_sandbox(tmp_path) is None
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "serve.json").write_text("{not json")
    assert running_sandbox(tmp_path) is None
