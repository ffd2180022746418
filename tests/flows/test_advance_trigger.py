"""`trigger_advance` from inside a Prefect run, as the watchdog's re-drive calls it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect import flow, get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

from flows.advance import trigger_advance

pytestmark = pytest.mark.prefect


class LiveResource:
    """Stands for the Runtime a watchdog task takes: it holds a lock, so it cannot be pickled."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


@task(name="redrive-like", cache_policy=NO_CACHE)
def redrive_like(resource: LiveResource, request_id: int) -> None:
    """Trigger advance from a task whose parameters cannot be pickled."""
    trigger_advance(request_id)


@flow(name="watchdog-like")
def watchdog_like(request_id: int) -> None:
    """A flow calling the task, as sla-watchdog calls redrive-stalled-requests."""
    redrive_like(LiveResource(), request_id)


def advance_runs() -> set[UUID]:
    """Ids of every advance-request task run on the server."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=["advance-request"]))
        )
    return {run.id for run in runs}


@pytest.fixture
def new_advance_runs(prefect_api: str) -> Iterator[set[UUID]]:
    """The advance runs a test creates; deleted afterwards, so no task worker picks them up."""
    before = advance_runs()
    created: set[UUID] = set()
    yield created
    created |= advance_runs() - before
    with get_client(sync_client=True) as client:
        for run_id in created:
            client.delete_task_run(run_id)


class TestTriggerInsideARun:
    """The watchdog re-drives stalled requests from inside its own flow and task run."""

    def test_submits_advance_from_a_task_with_unpicklable_parameters(
        self, new_advance_runs: set[UUID]
    ) -> None:
        """Prefect would pickle the calling task's context, parameters included, and fail."""
        before = advance_runs()
        watchdog_like(4242)
        new_advance_runs |= advance_runs() - before
        assert len(new_advance_runs) == 1
