"""The fault soak and crash test in CI size: real processes, faults on both stand-ins, kill -9.

The full size runs with `python -m reliability soak` (docs/reliability.md); this one files 10
requests, fails 10% of govflow's Jira and Slack calls and kills the runner, the receiver and
the Prefect server once each, and needs every check to pass.
"""

from __future__ import annotations

import pytest

from reliability.soak import PIECE_NAMES, SoakConfig, run
from tests.support.databases import POSTGRES_URL

pytestmark = [pytest.mark.prefect, pytest.mark.soak]


class TestSoak:
    """Nothing lost, nothing duplicated, nothing leaked, under faults and crashes."""

    # A runner killed during an intake or watchdog run holds that deployment's concurrency
    # slot until Prefect's 300 s lease runs out, so a run may take that much longer.
    @pytest.mark.timeout(900)
    def test_every_check_passes_under_faults_and_kills(self) -> None:
        """10 requests, 10% faults, each piece killed once: every check passes."""
        result = run(SoakConfig(requests=10, fault_rate=0.10, kills=3, seed=6, people=5))
        assert result.ok, result.table()
        assert sorted(k.piece for k in result.kills) == sorted(PIECE_NAMES), result.table()
        injected = {kind for counts in result.faults.values() for kind in counts}
        assert {"rate_limit", "reset", "latency"} <= injected, result.table()


@pytest.mark.postgres
class TestScaledSoak:
    """Two receivers behind a balancer and two runners on one PostgreSQL ledger."""

    @pytest.mark.timeout(900)
    def test_every_check_passes_with_two_of_each(self) -> None:
        """10 requests, 10% faults, every receiver, runner and the Prefect server killed once."""
        config = SoakConfig(
            requests=10,
            fault_rate=0.10,
            kills=5,
            seed=6,
            people=5,
            receivers=2,
            runners=2,
            database_url=POSTGRES_URL,
        )
        result = run(config)
        assert result.ok, result.table()
        assert sorted(k.piece for k in result.kills) == sorted(config.pieces), result.table()
        answered = str(result.figures["deliveries per receiver (balancer)"]).split(", ")
        assert len(answered) == 2 and all(int(n) > 0 for n in answered), result.table()
        assert any(c.name.startswith("secrets") and c.ok for c in result.checks)
