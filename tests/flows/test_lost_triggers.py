"""A click recorded in the ledger moves its request whatever happens to Prefect (issue 10).

Until the dispatcher, `advance` reached a runner only as a Prefect background task, held in the
Prefect server's memory and handed to any task worker subscribed to `advance-request`: a
server restart between submission and pickup lost it, and a leftover worker of another
installation took it and could not read its parameters; either way the request waited for
the watchdog. Here the real runner (`python -m flows.runner`) serves a Prefect server of its
own, a foreign task worker is subscribed to `advance-request` on it, and the server is
stopped while a click is recorded and started again: the click is applied, as a named flow
run, and the foreign worker is handed nothing. Run against the code before the dispatcher,
this test fails (the click is still unapplied when its wait ends).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.lifecycle import Claim
from domain.people import Person
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from govflow.prefect_server import free_port, start_prefect_server, stop_prefect_server
from govflow.runtime import utc_now
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import EventRow, OutboxRow, RequestRow
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from tests.govflow.test_advance import ticket
from tests.support.stand_ins import govflow_environment
from tests.support.waiting import eventually

pytestmark = pytest.mark.prefect
KEY = "MODREQ-1"  # seeded in the Jira stand-in, so intake's comment has a ticket to go to
EXPERT = Person(slack_id="U0EX00003")
FOREIGN_WORKER = """
import sys
from pathlib import Path
from prefect import task
from prefect.task_worker import serve

@task(name="advance-request")
def advance_request(request_id: int) -> None:
    with Path(sys.argv[1]).open("a") as taken:
        taken.write(f"{request_id}\\n")

serve(advance_request)
"""


class PrefectServer:
    """A Prefect server of the test's own, which the test stops and starts again."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.process, url = start_prefect_server(self.home, port=self.port, ui=False)
        assert url == self.api_url

    def stop(self) -> None:
        if self.process is not None:
            # Seen on a loaded machine: the server's shutdown outlasted 30 s. A restart is
            # what the test is about, not a graceful one.
            stop_prefect_server(self.process, timeout=30)
            self.process = None

    def deployment_names(self) -> list[str]:
        answer = httpx.post(f"{self.api_url}/deployments/filter", json={"limit": 50}, timeout=10)
        answer.raise_for_status()
        return [deployment["name"] for deployment in answer.json()]

    def flow_run_names(self) -> list[str]:
        answer = httpx.post(f"{self.api_url}/flow_runs/filter", json={"limit": 200}, timeout=10)
        answer.raise_for_status()
        return [run["name"] for run in answer.json()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrefectServer]:
    prefect = PrefectServer(tmp_path / "prefect")
    prefect.start()
    yield prefect
    prefect.stop()


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def runner_environment(
    server: PrefectServer, jira: JiraSandbox, slack: SlackSandbox, database_url: str
) -> dict[str, str]:
    """The runner's environment: the stand-ins, the ledger and the test's own Prefect server."""
    return {
        **os.environ,
        **govflow_environment(jira, slack, database_url),
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(server.home),
        # Intake and the watchdog stay out of it: only the dispatcher may apply the click.
        "GOVFLOW_INTAKE_INTERVAL_SECONDS": "3600",
        "GOVFLOW_WATCHDOG_INTERVAL_SECONDS": "3600",
    }


def file_ticket(sessions: sessionmaker[Session], jira: JiraSandbox) -> int:
    """Record and route MODREQ-1 as intake would; its request id."""
    context = IntakeContext(rules=load_rules(DEFAULT_RULES), jira_browse_url=jira.url)
    with sessions.begin() as session:
        filed = ticket().model_copy(update={"key": KEY, "id": "10001"})
        assert record_ticket(session, filed, context, utc_now()) is IntakeOutcome.ROUTED
        request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == KEY))
        assert request_id is not None
        return request_id


def thread_root_sent(sessions: sessionmaker[Session]) -> bool:
    """Whether the runner has posted the request's Slack thread root (intake's effect)."""
    with sessions.begin() as session:
        root = session.scalar(
            select(OutboxRow).where(OutboxRow.idempotency_key == f"{KEY}:thread-root")
        )
        return root is not None and root.status == "sent"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_runner_started_while_prefect_is_down_waits_for_it(
    server: PrefectServer,
    jira: JiraSandbox,
    slack: SlackSandbox,
    ledger: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Prefect not answering while the runner registers its deployments: it waits, then serves.

    The runner's dispatcher starts before `serve` registers the deployments; a Prefect server
    restarting in between made `serve` raise and the runner end (the restart test above
    failed about 1 run in 5 on a busy machine for that reason).
    """
    server.stop()
    log = tmp_path / "runner.log"
    runner = spawn(
        [sys.executable, "-m", "flows.runner"],
        runner_environment(server, jira, slack, database_url),
        log,
    )
    sessions = make_sessionmaker(ledger)
    try:
        file_ticket(sessions, jira)
        eventually(
            lambda: runner.poll() is not None or "did not answer" in log.read_text(),
            timeout=120,
            what="the runner trying to serve while Prefect is down",
        )
        assert runner.poll() is None, "the runner ended while Prefect was down:\n" + log.read_text()
        server.start()
        eventually(lambda: thread_root_sent(sessions), timeout=150, what="the thread root posted")
        eventually(
            lambda: "govflow-intake" in server.deployment_names(),
            timeout=60,
            what="the runner's deployments registered once Prefect answers",
        )
        assert runner.poll() is None
    finally:
        stop(runner)


def test_a_click_survives_a_prefect_restart_and_a_foreign_worker(
    server: PrefectServer,
    jira: JiraSandbox,
    slack: SlackSandbox,
    ledger: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Recorded while Prefect is down, with a foreign worker waiting: applied once it is back."""
    env = runner_environment(server, jira, slack, database_url)
    taken = tmp_path / "taken-by-foreign-worker.txt"
    taken.touch()
    foreign = spawn([sys.executable, "-c", FOREIGN_WORKER, str(taken)], env, tmp_path / "f.log")
    runner = spawn([sys.executable, "-m", "flows.runner"], env, tmp_path / "runner.log")
    sessions = make_sessionmaker(ledger)
    try:
        request_id = file_ticket(sessions, jira)

        def root_posted() -> bool:
            return thread_root_sent(sessions)

        # Intake's effects are work in the ledger too: the runner delivers them unasked.
        eventually(root_posted, what="the thread root posted by the runner", timeout=60)

        server.stop()
        claim = Claim(event_id="claim-while-prefect-is-down", actor=EXPERT, at=utc_now())
        with sessions.begin() as session:
            record_event(
                session,
                request_id=request_id,
                kind=claim.kind,
                actor=EXPERT.slack_id,
                payload=claim.model_dump(mode="json"),
                dedupe_key=claim.event_id,
                now=utc_now(),
            )
        time.sleep(2.0)  # the runner tries, and fails, while the server is down
        server.start()

        def applied() -> bool:
            with sessions.begin() as session:
                event = session.scalar(
                    select(EventRow).where(EventRow.dedupe_key == claim.event_id)
                )
                return event is not None and event.processed_at is not None

        # Its runs failed while the server was down, each waiting longer (up to 30 s), and the
        # server's own start takes a while on a busy machine.
        eventually(applied, what="the click applied after Prefect came back", timeout=150)
        assert runner.poll() is None, "the runner must live through the server's restart"
        eventually(
            lambda: f"{KEY} · EXPERT_REVIEW" in server.flow_run_names(),
            what="the advance flow run on the restarted server",
            timeout=30,
        )
        with sessions.begin() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None and row.assignee == EXPERT.slack_id
        assert taken.read_text() == "", "a foreign task worker was handed govflow's work"
    finally:
        stop(runner)
        stop(foreign)
