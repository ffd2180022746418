"""A restarted runner frees the concurrency slot a killed runner's run was holding."""

from __future__ import annotations

from typing import cast
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Pending, Running

from flows.intake import intake
from flows.runner import ONE_AT_A_TIME, crash_interrupted_runs

pytestmark = pytest.mark.prefect
NAME = "intake-restart-test"


def active_slots(deployment_id: UUID) -> int:
    """Slots taken of the deployment's concurrency limit."""
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(f"deployment:{deployment_id}")
    return limit.active_slots


class TestRunnerRestart:
    """What a runner does when it starts again after a kill -9."""

    def test_a_run_left_running_is_crashed_and_its_slot_freed(self, prefect_api: str) -> None:
        """Otherwise the next intake runs are cancelled until Prefect's lease runs out."""
        deployment_id = cast(
            UUID, intake.to_deployment(name=NAME, concurrency_limit=ONE_AT_A_TIME).apply()
        )
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(deployment_id)
            client.set_flow_run_state(run.id, Pending())
            client.set_flow_run_state(run.id, Running())
        assert active_slots(deployment_id) == 1
        assert crash_interrupted_runs([f"intake/{NAME}", "absent/never-served"]) == 1
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run.id).state
        assert state is not None and state.type == StateType.CRASHED
        assert active_slots(deployment_id) == 0
