"""Bringing a ledger database to the current schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
# An arbitrary constant naming the migration lock among PostgreSQL's advisory locks.
MIGRATION_LOCK = 0x676F76666C6F77


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at our migrations (`upgrade` hands it the connection)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`; safe to run on an up-to-date database.

    On PostgreSQL, processes starting at once (several receivers and runners) take turns:
    without the lock, two upgrading an empty ledger both created its first table, and the
    second failed (DuplicateTable). The lock ends with the transaction.
    """
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
