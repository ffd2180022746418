"""A sandbox start begins clean everywhere: ledger and the sandbox's Prefect home included."""

from __future__ import annotations

import json
import os
from pathlib import Path

from config.loader import load_rules
from config.settings import load_settings
from govflow.supervisor import Supervisor
from sandbox.console.launch import running_sandbox


def test_a_sandbox_start_wipes_the_last_runs_ledger_and_prefect_home(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    (sandbox / "prefect").mkdir(parents=True)
    (sandbox / "prefect" / "prefect.db").write_text("the last run's flow runs")
    (sandbox / "ledger.db").write_text("the last run's ledger")
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "prefect.db").write_text("a non-sandbox Prefect home: kept")
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path)})
    # Neither the test session's Prefect server nor any GOVFLOW_* of the session: a fresh clone.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVFLOW_", "PREFECT_"))}
    env["GOVFLOW_DATA_DIR"] = str(tmp_path)
    supervisor = Supervisor(
        settings,
        load_rules(settings.rules),
        only=frozenset({"sandbox"}),
        say=lambda _: None,
        env=env,
    )
    try:
        supervisor.start()
        assert not (sandbox / "prefect").exists()
        assert supervisor.prefect_home == sandbox.resolve() / "prefect"
        assert (tmp_path / "prefect" / "prefect.db").read_text().endswith("kept")
        # The ledger was deleted and migrated afresh: a SQLite file, not the old text.
        assert (sandbox / "ledger.db").read_bytes().startswith(b"SQLite format 3")
        found = running_sandbox(tmp_path)
        assert found is not None and found.database_url.endswith("sandbox/ledger.db")
        record = json.loads((sandbox / "serve.json").read_text())
        assert record["console_url"].startswith("http://127.0.0.1:")
    finally:
        supervisor.stop()
