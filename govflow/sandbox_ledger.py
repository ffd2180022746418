"""Which ledger a read-only command (`govflow sla`, `govflow sop`) reads.

GOVFLOW_DATABASE_URL (or `.env`) wins. Without it, while `govflow serve` runs the stand-ins
(`make run`), their ledger is `<data dir>/sandbox/ledger.db`, not the default
`<data dir>/govflow.db`: serve records it in `<data dir>/sandbox/serve.json` and these
commands read that one, saying so on stderr.
"""

from __future__ import annotations

from config.settings import Settings
from sandbox.console.launch import running_sandbox


def ledger_to_read(settings: Settings) -> tuple[str, str | None]:
    """The ledger URL to read, and a line telling the operator why, when it is the sandbox's."""
    if "database_url" in settings.model_fields_set:
        return settings.database_url, None
    sandbox = running_sandbox(settings.data_dir)
    if sandbox is None:
        return settings.database_url, None
    return sandbox.database_url, (
        f"reading the running sandbox's ledger ({sandbox.database_url}; `govflow serve` pid "
        f"{sandbox.pid}); set GOVFLOW_DATABASE_URL to read another"
    )
