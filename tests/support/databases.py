"""Ledger databases for tests: a fresh SQLite file, or a fresh schema in the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from integrations.db.engine import make_engine
from integrations.db.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "GOVFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_dsn() -> str:
    """The libpq form of the test PostgreSQL URL."""
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sqlite_url(directory: Path) -> str:
    """A URL for a new SQLite ledger file in `directory`."""
    return f"sqlite:///{directory / 'ledger.db'}"


@contextmanager
def migrated_engine(url: str) -> Iterator[Engine]:
    """An engine on `url` with the ledger schema applied, disposed afterwards."""
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
