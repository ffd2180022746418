"""Fixtures shared by the whole suite: ledgers on SQLite and PostgreSQL, a Prefect server."""

from __future__ import annotations

import os
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


def pytest_configure(config: pytest.Config) -> None:
    """Point every Prefect client of the run at the test server, before Prefect is imported.

    Prefect reads its settings into a context variable at import; threads that do not inherit
    it (uvicorn's, a task worker's) and subprocesses fall back to the environment, so the
    environment must already name the server. It is started lazily by `prefect_api`.
    """
    from govflow.prefect_server import free_port

    if "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{free_port()}/api"
        os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="govflow-prefect-")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect server for the session at the URL `pytest_configure` chose."""
    from govflow.prefect_server import start_prefect_server

    api_url = os.environ["PREFECT_API_URL"]
    port = int(api_url.rsplit(":", 1)[1].split("/")[0])
    home = Path(tempfile.mkdtemp(prefix="govflow-prefect-server-"))
    process, started_url = start_prefect_server(home, port=port, ui=False)
    assert started_url == api_url
    try:
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
