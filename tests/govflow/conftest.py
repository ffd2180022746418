"""Fixtures of the use-case tests: the shipped rules and a ledger's sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.rules import Rules
from integrations.db.engine import make_sessionmaker


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The shipped rules (their rosters name the Slack stand-in's seeded people)."""
    return load_rules(DEFAULT_RULES)


@pytest.fixture
def sessions(ledger: Engine) -> sessionmaker[Session]:
    """Sessions on a fresh, migrated ledger (SQLite, then PostgreSQL)."""
    return make_sessionmaker(ledger)
