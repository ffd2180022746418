"""Two runners of one installation; kill -9 of one crashes only its run, and frees the slot.

Replaces "a starting runner crashes its deployments' running runs", which crashed the runs of
every other runner too. The runners are real processes serving a deployment of a sleeping
flow with govflow's settings (heartbeats, the zombie automation, one run at a time); the
Prefect server is the real one of the test session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.schemas.automations import EventTrigger
from prefect.events.schemas.events import ResourceSpecification

from govflow.zombies import (
    HEARTBEAT_SECONDS,
    automation_name,
    watch_for_zombies,
    zombie_automation,
)
from tests.serve.runners import AFTER_SECONDS, Runners, state_of
from tests.support.waiting import eventually

pytestmark = pytest.mark.prefect


@pytest.fixture
def runners(prefect_api: str, tmp_path: Path) -> Iterator[Runners]:
    """Runners of a fresh installation; killed and their automation deleted afterwards."""
    fleet = Runners(tmp_path)
    yield fleet
    fleet.stop_all()
    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(automation_name(fleet.installation)):
            client.delete_automation(automation.id)


class TestZombieAutomation:
    """The automation each runner keeps on the Prefect server."""

    def test_created_once_and_kept_up_to_date(self, prefect_api: str) -> None:
        """A second runner start updates the automation instead of adding another."""
        installation = f"zt-{uuid.uuid4().hex[:8]}"
        first = watch_for_zombies(installation)
        again = watch_for_zombies(installation)
        with get_client(sync_client=True) as client:
            found = client.read_automations_by_name(automation_name(installation))
            for automation in found:
                client.delete_automation(automation.id)
        assert first == again and [a.id for a in found] == [first]

    def test_judges_only_its_installations_runs(self) -> None:
        """It matches runs tagged with its installation, not another's."""
        trigger = zombie_automation("staging").trigger
        assert isinstance(trigger, EventTrigger)
        tag = {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.staging"}
        assert trigger.match_related == ResourceSpecification(tag)
        assert trigger.within.total_seconds() > HEARTBEAT_SECONDS


class TestTwoRunners:
    """kill -9 of one runner of two."""

    def test_only_the_killed_runners_run_is_crashed_and_the_slot_is_freed(
        self, runners: Runners, tmp_path: Path
    ) -> None:
        """A's run survives B's start; after A's kill it is crashed; B then runs the next."""
        first = runners.start("a")
        pid_a = tmp_path / "run-a.pid"
        run_a = runners.new_run(pid_a)
        eventually(
            lambda: state_of(run_a) == StateType.RUNNING,
            timeout=120,
            what="A runs the first run",
            interval=0.5,
        )
        eventually(pid_a.exists, timeout=60, what="the first run's process started", interval=0.5)

        runners.start("b")
        # The old start-up crashed every running run of the deployment here.
        time.sleep(HEARTBEAT_SECONDS / 3)
        assert state_of(run_a) == StateType.RUNNING

        runners.kill(first)
        eventually(
            lambda: state_of(run_a) == StateType.CRASHED,
            timeout=AFTER_SECONDS + HEARTBEAT_SECONDS + 60,
            what="the killed runner's run is crashed",
            interval=0.5,
        )
        # Its slot is free: B takes the next run instead of it being cancelled.
        pid_b = tmp_path / "run-b.pid"
        run_b = runners.new_run(pid_b)
        eventually(
            lambda: state_of(run_b) == StateType.RUNNING,
            timeout=120,
            what="B runs the next run",
            interval=0.5,
        )
