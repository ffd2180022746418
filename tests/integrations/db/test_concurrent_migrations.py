"""Several processes starting at once each migrate the same empty PostgreSQL ledger."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from integrations.db.engine import make_engine
from tests.support.databases import postgres_schema_url

pytestmark = pytest.mark.postgres

UPGRADE = (
    "import sys; from integrations.db.engine import make_engine; "
    "from integrations.db.migrate import upgrade; upgrade(make_engine(sys.argv[1]))"
)


class TestConcurrentUpgrade:
    """Receivers and runners of a scaled-out installation migrate at their start."""

    def test_three_processes_at_once_all_succeed(self) -> None:
        """Without the advisory lock two of three failed with DuplicateTable."""
        with postgres_schema_url() as url:
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", UPGRADE, url], stderr=subprocess.PIPE, text=True
                )
                for _ in range(3)
            ]
            outcomes = [(p.wait(), p.stderr.read() if p.stderr else "") for p in processes]
            engine = make_engine(url)
            try:
                tables = set(inspect(engine).get_table_names())
            finally:
                engine.dispose()
        assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
        assert {"requests", "events", "outbox", "alembic_version"} <= tables
