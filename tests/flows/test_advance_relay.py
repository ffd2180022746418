"""The receiver's AdvanceRelay: `advance` submitted from a lower-priority child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from domain.stages import Stage
from flows.advance_relay import RELAY_NICENESS, AdvanceRelay
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow
from integrations.db.requests import ensure_request, find_request
from tests.flows.test_advance_trigger import advance_runs, new_advance_runs

pytestmark = pytest.mark.prefect
T = TypeVar("T")
__all__ = ["new_advance_runs"]  # a fixture this module uses


def eventually(check: Callable[[], T], timeout: float = 60.0) -> T:
    """The first truthy result of `check` (the child submits asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.1)
    return result


@pytest.fixture
def relay(pipeline_env: dict[str, str]) -> Iterator[AdvanceRelay]:
    """A relay whose child reads the test environment (ledger, Prefect server)."""
    relay = AdvanceRelay()
    yield relay
    relay.close()


class TestRelay:
    """What the relay submits, from where, and what happens when its child is gone."""

    def test_submits_one_advance_run_per_request_from_a_lower_priority_child(
        self, relay: AdvanceRelay, new_advance_runs: set[UUID]
    ) -> None:
        before = advance_runs()

        relay(9101)
        relay(9102)

        eventually(lambda: len(advance_runs() - before) >= 2)
        created = advance_runs() - before
        new_advance_runs |= created
        assert len(created) == 2
        assert relay.pid is not None and relay.pid != os.getpid()
        expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + RELAY_NICENESS)
        assert os.getpriority(os.PRIO_PROCESS, relay.pid) == expected

    def test_a_child_that_died_is_started_again(
        self, relay: AdvanceRelay, new_advance_runs: set[UUID]
    ) -> None:
        before = advance_runs()
        first = relay.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        eventually(lambda: not relay.alive)

        relay(9103)

        created = eventually(lambda: advance_runs() - before)
        new_advance_runs |= created
        assert len(created) == 1
        assert relay.pid not in (None, first)


class TestFailure:
    """A submission that fails is audited; the watchdog re-drives the request."""

    def test_a_failed_submission_writes_an_audit_record(
        self, pipeline_env: dict[str, str], ledger: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Nothing listens on port 9 (discard): Prefect's client fails at once, without retries.
        monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
        monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", "0")
        with make_sessionmaker(ledger).begin() as session:
            at = datetime.now(UTC)
            ensure_request(
                session,
                jira_key="MODREQ-9104",
                jira_id="9104",
                project="MODREQ",
                jira_updated=at,
                stage=Stage.RECEIVED,
                now=at,
            )
            request = find_request(session, "MODREQ-9104")
            assert request is not None
            request_id = request.id
        relay = AdvanceRelay()
        try:
            relay(request_id)

            def failed() -> list[AuditRow]:
                with make_sessionmaker(ledger).begin() as session:
                    rows = session.scalars(
                        select(AuditRow).where(AuditRow.action == "advance_trigger_failed")
                    ).all()
                    session.expunge_all()
                    return list(rows)

            [record] = eventually(failed)
        finally:
            relay.close()
        assert record.request_id == request_id
        assert record.actor == "govflow"
        assert record.reason


PARENT = """
import os, sys
from flows.advance_relay import AdvanceRelay
relay = AdvanceRelay()
print(relay.pid, flush=True)
os.kill(os.getpid(), 9)
"""


def test_the_child_exits_when_the_receiver_is_killed(pipeline_env: dict[str, str]) -> None:
    """kill -9 of the receiver alone (not its group) must not leave its relay behind."""
    parent = subprocess.run(
        [sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=120, check=False
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr[-2000:]
    child = int(parent.stdout.split()[0])

    eventually(lambda: not _running(child))


def _running(pid: int) -> bool:
    """Whether a process (not our child: its parent was killed) still runs, zombies excepted."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
