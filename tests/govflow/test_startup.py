"""Preparing the ledger at start-up: migrations, then the SOP import, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES, load_settings
from govflow.startup import prepare_ledger
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.models import SopRow

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PACKAGED = ["SOP-CNT-001", "SOP-LST-001", "SOP-LST-002", "SOP-MOB-001"]


@pytest.fixture
def empty(database_url: str) -> Iterator[Engine]:
    """A ledger database with no schema yet."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


class TestPrepareLedger:
    def test_migrates_and_imports_the_packaged_sops(self, empty: Engine) -> None:
        """An empty database gets the schema and every shipped SOP as version 1."""
        settings = load_settings({})
        report = prepare_ledger(settings, load_rules(DEFAULT_RULES), empty, NOW)
        assert sorted(report.new) == PACKAGED and not report.invalid
        with make_sessionmaker(empty).begin() as session:
            assert list(session.scalars(select(SopRow.id).order_by(SopRow.id))) == PACKAGED

    def test_a_second_start_changes_nothing(self, empty: Engine) -> None:
        """Running it again migrates nothing new and reports every SOP unchanged."""
        settings = load_settings({})
        rules = load_rules(DEFAULT_RULES)
        prepare_ledger(settings, rules, empty, NOW)
        again = prepare_ledger(settings, rules, empty, NOW)
        assert again.new == () and sorted(again.unchanged) == PACKAGED
