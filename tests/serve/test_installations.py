"""Two installations on one Prefect server (staging and production, two teams) keep apart.

Each installation names and tags its deployments with GOVFLOW_INSTALLATION, so a runner only
ever serves, and runs, its own installation's work, and each judges only its own zombies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType

from config.settings import load_settings
from flows.runner import deployments
from govflow.zombies import automation_name
from tests.serve.runners import Runners, eventually, state_of

pytestmark = pytest.mark.prefect


def parent_of(pid: int) -> int:
    """The parent pid of a living process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def runs_under(pid: int, ancestor: int) -> bool:
    """Whether `ancestor` is among the process's parents."""
    while pid > 1:
        pid = parent_of(pid)
        if pid == ancestor:
            return True
    return False


class TestDeploymentNames:
    """What each installation registers on the shared server."""

    def test_names_and_tags_carry_the_installation(self) -> None:
        """No deployment, and no tag, is shared between two installations."""
        production = deployments(load_settings({}))
        staging = deployments(load_settings({"GOVFLOW_INSTALLATION": "staging"}))
        assert {"govflow-intake", "govflow-sla-watchdog"} <= {d.name for d in production}
        assert all(d.name.startswith("govflow-") for d in production)
        assert [d.name.removeprefix("staging-") for d in staging] == [
            d.name.removeprefix("govflow-") for d in production
        ]
        assert all("govflow" in d.tags and "staging" not in d.tags for d in production)
        assert all("staging" in d.tags and "govflow" not in d.tags for d in staging)


@pytest.fixture
def two(prefect_api: str, tmp_path: Path) -> Iterator[tuple[Runners, Runners]]:
    """A runner for each of two fresh installations on the session's Prefect server."""
    suffix = uuid.uuid4().hex[:6]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fleets = (Runners(tmp_path / "a", f"a-{suffix}"), Runners(tmp_path / "b", f"b-{suffix}"))
    yield fleets
    for fleet in fleets:
        fleet.stop_all()
        with get_client(sync_client=True) as client:
            for found in client.read_automations_by_name(automation_name(fleet.installation)):
                client.delete_automation(found.id)


class TestSharedServer:
    """Each installation's runs are run by its own runner, whichever polls first."""

    def test_each_run_is_run_by_its_own_installations_runner(
        self, two: tuple[Runners, Runners], tmp_path: Path
    ) -> None:
        """A run of A's deployment runs under A's runner, B's under B's, both at once."""
        a, b = two
        runner_a, runner_b = a.start("runner"), b.start("runner")
        pid_a, pid_b = tmp_path / "a.pid", tmp_path / "b.pid"
        run_a, run_b = a.new_run(pid_a), b.new_run(pid_b)
        both = lambda: {state_of(run_a), state_of(run_b)} == {StateType.RUNNING}  # noqa: E731
        eventually(both, 120, "both runs run")
        eventually(lambda: pid_a.exists() and pid_b.exists(), 60, "their processes started")
        assert runs_under(int(pid_a.read_text()), runner_a.pid)
        assert runs_under(int(pid_b.read_text()), runner_b.pid)
        with get_client(sync_client=True) as client:
            names = {a.name for a in client.read_automations()}
        assert {automation_name(a.installation), automation_name(b.installation)} <= names
