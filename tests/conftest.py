"""Fixtures shared by the whole suite: ledgers on SQLite and PostgreSQL, a Prefect server."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(autouse=True)
def prefect_settings_kept() -> Iterator[None]:
    """No test may leave Prefect pointed elsewhere: every later test would talk to its server.

    The soak once set PREFECT_API_URL in os.environ to its own server, which it then stopped;
    every Prefect test after it in the run failed with "connection refused".
    """
    from prefect.settings import PREFECT_API_URL

    before = (os.environ.get("PREFECT_API_URL"), PREFECT_API_URL.value())
    yield
    assert (os.environ.get("PREFECT_API_URL"), PREFECT_API_URL.value()) == before


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect server for the session at the URL `pytest_configure` chose."""
    from govflow.prefect_server import start_prefect_server, stop_prefect_server

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
        stop_prefect_server(process)
        shutil.rmtree(home, ignore_errors=True)


# Tests left out of the quick loop (`make check`, `pytest -m "not slow"`): whatever starts a
# server or a process (Prefect, the stand-ins, govflow itself, a browser), the PostgreSQL
# variant of each ledger test (its SQLite twin stays), and every property-based or fuzz test
# (hypothesis: hundreds of examples each). `make test` runs them with the rest.
SLOW_FIXTURES = frozenset({"prefect_api"})
SLOW_MARKERS = frozenset({"prefect", "soak", "postgres"})
SLOW_FILES = {
    "tests/flows/": "flow runs on a Prefect server",
    "tests/serve/": "starts and stops govflow processes",
    "tests/reliability/": "the soak and its client timeouts",
    "tests/receiver/": "the receiver over HTTP against the stand-ins",
    "tests/sandbox/": "the stand-in servers themselves, and the browser",
    "tests/lifecycle/": "a hypothesis state machine over the ledger",
    "tests/integrations/jira/test_gateway.py": "the Jira client against the stand-in",
    "tests/integrations/slack/test_gateway.py": "the Slack client against the stand-in",
    "tests/integrations/db/test_concurrent_migrations.py": "migrating from several processes",
    "tests/integrations/test_delivery_lease.py": "delivery from killed processes",
    "tests/govflow/test_dispatch.py": "dispatcher threads waiting on the ledger",
    "tests/govflow/test_prefect_server.py": "starts a Prefect server",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests `slow`: hypothesis tests, and by fixture, marker or file."""
    root = Path(__file__).resolve().parent.parent
    for item in items:
        where = item.path.resolve().relative_to(root).as_posix()
        named = {mark.name for mark in item.iter_markers()}
        fixtures = set(getattr(item, "fixturenames", ()))
        hypothesis = getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        if (
            hypothesis
            or fixtures & SLOW_FIXTURES
            or named & SLOW_MARKERS
            or any(where.startswith(prefix) for prefix in SLOW_FILES)
        ):
            item.add_marker(pytest.mark.slow)
