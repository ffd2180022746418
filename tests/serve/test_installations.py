"""Two installations on one Prefect server (staging and production, two teams) keep apart.

Each installation names and tags its deployments with GOVFLOW_INSTALLATION, so a runner only
ever serves, and runs, its own installation's work, and each judges only its own zombies; and
it publishes its board and journeys under keys of its own, and tags its `advance` runs in its
own namespace, so neither shows nor overwrites the other's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect import flow, get_client
from prefect.client.schemas.objects import StateType
from prefect.runtime import flow_run

from config.loader import load_rules
from config.settings import load_settings
from flows.run_tags import advance_tags, label_run
from flows.runner import deployments
from govflow.publishing import publish_board_now, publish_request_timeline
from govflow.runtime import Runtime, slack_gateway
from govflow.zombies import automation_name
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, RequestRow
from integrations.jira.gateway import JiraGateway
from integrations.prefect_ui.artifacts import artifact_key
from integrations.prefect_ui.urls import BOARD_KEY, board_key, board_page
from tests.serve.runners import Runners, state_of
from tests.support.databases import migrated_engine, sqlite_url
from tests.support.waiting import eventually

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

    def test_the_default_installation_keeps_its_keys_and_tags(self) -> None:
        """What existing users bookmarked and filter by is unchanged; others are prefixed."""
        assert board_key("govflow") == BOARD_KEY == "open-requests"
        assert artifact_key("MODREQ-12", "govflow") == "request-modreq-12"
        assert advance_tags("govflow", "MODREQ-12", "SIGN_OFF", "qa,bpo") == [
            *("govflow", "advance", "MODREQ-12", "SIGN_OFF", "qa", "bpo")
        ]
        assert board_key("staging") == "staging-open-requests"
        assert artifact_key("MODREQ-12", "staging") == "staging-request-modreq-12"
        assert advance_tags("staging", "MODREQ-12", "SIGN_OFF", None) == [
            *("staging", "staging:advance", "staging:MODREQ-12", "staging:SIGN_OFF")
        ]


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
        eventually(both, timeout=120, what="both runs run", interval=0.5)
        eventually(
            lambda: pid_a.exists() and pid_b.exists(),
            timeout=60,
            what="their processes started",
            interval=0.5,
        )
        assert runs_under(int(pid_a.read_text()), runner_a.pid)
        assert runs_under(int(pid_b.read_text()), runner_b.pid)
        with get_client(sync_client=True) as client:
            names = {a.name for a in client.read_automations()}
        assert {automation_name(a.installation), automation_name(b.installation)} <= names


# Both installations have a request under this Jira key: staging mirrors production's project.
SHARED_KEY = "MODREQ-7"


@flow(name="installations-labelled")
def labelled(installation: str) -> str:
    """An `advance`-like run that tags itself as `advance` does; its id."""
    label_run(f"{SHARED_KEY} · SIGN_OFF", advance_tags(installation, SHARED_KEY, "SIGN_OFF", "qa"))
    run_id = flow_run.get_id()
    assert run_id is not None
    return run_id


@pytest.fixture
def runtimes(prefect_api: str, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two installations' runtimes, each with its own ledger holding a request `SHARED_KEY`."""
    suffix = uuid.uuid4().hex[:6]
    with ExitStack() as stack:
        built = []
        for name in (f"a-{suffix}", f"b-{suffix}"):
            (tmp_path / name).mkdir()
            url = sqlite_url(tmp_path / name)
            engine = stack.enter_context(migrated_engine(url))
            settings = load_settings({"GOVFLOW_INSTALLATION": name, "GOVFLOW_DATABASE_URL": url})
            runtime = Runtime(
                settings=settings,
                rules=load_rules(settings.rules),
                engine=engine,
                sessions=make_sessionmaker(engine),
                jira=JiraGateway.from_settings(settings),
                slack=slack_gateway(settings),
            )
            now = datetime.now(UTC)
            with runtime.sessions.begin() as session:
                request = RequestRow(
                    jira_key=SHARED_KEY,
                    jira_id="10007",
                    project="MODREQ",
                    summary=f"the request of {name}",
                    stage="RECEIVED",
                    jira_updated=now,
                    created_at=now,
                    updated_at=now,
                )
                session.add(request)
                session.flush()
                # As intake records it: a journey has at least its first step.
                session.add(
                    AuditRow(
                        request_id=request.id,
                        at=now,
                        actor="intake",
                        action="request_created",
                        detail={"reporter": "requester@example.com"},
                    )
                )
            built.append(runtime)
        yield built[0], built[1]


def latest(api_url: str, key: str) -> dict[str, str]:
    """The latest artifact under `key` as the server has it."""
    with httpx.Client(base_url=api_url) as api:
        found = api.get(f"/artifacts/{key}/latest")
    found.raise_for_status()
    body: dict[str, str] = found.json()
    return body


def run_tags(run_id: str) -> set[str]:
    """The tags of a flow run as the server has it."""
    with get_client(sync_client=True) as client:
        return set(client.read_flow_run(UUID(run_id)).tags)


class TestSharedArtifacts:
    """Boards, journeys and run tags of two installations on one server stay apart."""

    def test_boards_journeys_and_tags_are_each_installations_own(
        self, prefect_api: str, runtimes: tuple[Runtime, Runtime]
    ) -> None:
        """A's board, journey and runs are A's alone; B publishing after A changes none of them."""
        a, b = runtimes
        name_a, name_b = a.settings.installation, b.settings.installation
        run_a, run_b = labelled(name_a), labelled(name_b)
        # Tagged in their own namespaces: nothing to filter on finds both runs.
        assert run_tags(run_a).isdisjoint(run_tags(run_b))
        assert name_a in run_tags(run_a) and name_b in run_tags(run_b)

        board_a = publish_board_now(a)
        publish_request_timeline(a, 1)
        board_b = publish_board_now(b)
        publish_request_timeline(b, 1)

        assert board_a != board_b
        assert board_key(name_a) != board_key(name_b)
        for mine, other, run, not_run in ((a, b, run_a, run_b), (b, a, run_b, run_a)):
            me, them = mine.settings.installation, other.settings.installation
            board = latest(prefect_api, board_key(me))["data"]
            journey = latest(prefect_api, artifact_key(SHARED_KEY, me))["data"]
            assert f"the request of {me}" in board
            assert f"the request of {them}" not in board
            assert f"the request of {me}" in journey
            assert f"the request of {them}" not in journey
            # The journey links its own installation's run of the key, not the other's.
            assert run in journey
            assert not_run not in journey
        # The page `govflow serve` prints for each installation shows its own board.
        assert board_page(prefect_api, name_a).endswith(str(board_a))
        assert board_page(prefect_api, name_b).endswith(str(board_b))
