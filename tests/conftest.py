"""Fixtures shared by the whole suite: ledgers on SQLite and PostgreSQL, a Prefect server."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.databases import migrated_engine, postgres_schema_url, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture
def ledger(database_url: str) -> Iterator[Engine]:
    """A migrated ledger engine on each backend."""
    with migrated_engine(database_url) as engine:
        yield engine


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect server for the session; flows run in this process report to it."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from govflow.prefect_server import start_prefect_server

    home = Path(tempfile.mkdtemp(prefix="govflow-prefect-"))
    process, api_url = start_prefect_server(home, ui=False)
    try:
        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_HOME: str(home)}):
            yield api_url
    finally:
        # Send buffered run logs while the server still listens, not at interpreter exit.
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(home, ignore_errors=True)
