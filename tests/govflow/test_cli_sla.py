"""`govflow sla explain KEY` against a ledger on SQLite and PostgreSQL and the shipped rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from govflow.cli_sla import sla_app
from tests.govflow.test_clocks_usecase import World

# Tuesday 1 December 2026, 10:00 in Bangkok, where the listing experts work.
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(sla_app, list(args), env={"GOVFLOW_DATABASE_URL": url})


@pytest.fixture
def paused_once(ledger: Engine) -> World:
    """A listing request (shipped rules) that waited for its requester Wednesday to Thursday."""
    rules = load_rules(DEFAULT_RULES)
    route = next(r for r in rules.routing if r.name == "review-standard-listing")
    world = World.routed(ledger, "MODREQ-7", T0, rules=rules, route=route)
    world.ask(T0 + DAY)
    world.reply(T0 + 2 * DAY)
    return world


class TestExplain:
    def test_it_shows_what_was_counted_skipped_and_paused(
        self, paused_once: World, database_url: str
    ) -> None:
        """Working intervals, the Thai holidays skipped, the pause, and the due time."""
        result = run(database_url, "explain", "MODREQ-7", "--at", "2026-12-04T03:00:00Z")

        assert result.exit_code == 0, result.output
        out = result.output
        assert out.startswith("#1 Listing Experts expert review clock: running, policy standard")
        assert "target 5d = 45h of working time (a day is 9h; bangkok, Asia/Bangkok)" in out
        assert "Tue 01 Dec 2026 10:00-18:00 +07        8h  (total 8h)" in out
        assert "National Father's Day (in lieu)" in out  # Monday 7 December
        assert "Constitution Day" in out  # Thursday 10 December
        assert "Paused (not counted):" in out and "9h of working time" in out
        assert "due      Fri 11 Dec 2026 10:00 +07" in out

    def test_the_instant_defaults_to_now(self, paused_once: World, database_url: str) -> None:
        """Without --at the explanation is as of the clock on the wall."""
        with time_machine.travel(datetime(2026, 12, 14, 3, 0, tzinfo=UTC), tick=False):
            result = run(database_url, "explain", "modreq-7")

        assert result.exit_code == 0, result.output
        assert "now      Mon 14 Dec 2026 10:00 +07 (03:00 UTC): breached" in result.output

    def test_an_unknown_key_is_an_error(self, paused_once: World, database_url: str) -> None:
        """Exit 1 and say so."""
        result = run(database_url, "explain", "MODREQ-999")

        assert result.exit_code == 1
        assert "no request MODREQ-999 in the ledger" in result.output

    def test_a_bad_instant_is_a_usage_error(self, paused_once: World, database_url: str) -> None:
        """--at must be an ISO 8601 date and time."""
        result = run(database_url, "explain", "MODREQ-7", "--at", "next tuesday")

        assert result.exit_code == 2
        assert "is not a date and time" in result.output


def test_a_missing_ledger_is_not_created(tmp_path: Path) -> None:
    """Pointing at no database says how to create one, and creates nothing."""
    url = f"sqlite:///{tmp_path / 'absent.db'}"

    result = run(url, "explain", "MODREQ-1")

    assert result.exit_code == 1
    assert "has no SLA clocks table yet" in result.output
    assert not (tmp_path / "absent.db").exists()
