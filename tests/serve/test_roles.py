"""`govflow serve --role receiver|runner`: one piece each, joining a shared Prefect server,
ledger and Jira/Slack (here the stand-ins, given as if they were the real services)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from govflow.cli import app
from govflow.prefect_server import free_port
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from tests.serve.test_stop import GOVFLOW, READY, Serving, alive, descendants, left_behind
from tests.support.databases import postgres_schema_url

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]


class TestRoleChecks:
    """A role that cannot work refuses to start, saying what is missing."""

    def test_a_runner_without_a_prefect_server(self, tmp_path: Path) -> None:
        """No PREFECT_API_URL and no credentials: exit 2 naming both."""
        env = {"PREFECT_API_URL": "", "GOVFLOW_DATA_DIR": str(tmp_path)}
        result = CliRunner().invoke(app, ["serve", "--role", "runner"], env=env)
        assert result.exit_code == 2
        assert "a runner needs PREFECT_API_URL" in result.output
        assert "Jira and Slack must be configured" in result.output

    def test_only_and_role_together(self) -> None:
        """Two ways of choosing the pieces at once is a mistake."""
        result = CliRunner().invoke(app, ["serve", "--role", "runner", "--only", "runner"])
        assert result.exit_code == 2


@pytest.fixture
def shared(prefect_api: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """What every process of a scaled-out installation shares: Prefect, ledger, Jira, Slack."""
    with JiraSandbox(seed=True) as jira, SlackSandbox() as slack, postgres_schema_url() as url:
        user, token = jira.credentials
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVFLOW_")}
        env.update(
            {
                "PREFECT_API_URL": prefect_api,
                "GOVFLOW_DATABASE_URL": url,
                "GOVFLOW_JIRA_URL": jira.url,
                "GOVFLOW_JIRA_USER": user,
                "GOVFLOW_JIRA_TOKEN": token,
                "GOVFLOW_JIRA_WEBHOOK_SECRET": "roles-webhook-secret",
                "GOVFLOW_SLACK_BOT_TOKEN": slack.bot_token,
                "GOVFLOW_SLACK_API_URL": slack.api_url,
                "GOVFLOW_SLACK_SIGNING_SECRET": "roles-signing-secret",
                "GOVFLOW_INSTALLATION": f"roles-{free_port()}",
            }
        )
        yield env


def start_role(role: str, env: dict[str, str], home: Path, **extra: str) -> Serving:
    """`govflow serve --role <role>` in a session of its own; returns once it runs."""
    home.mkdir()
    output = home / "serve.out"
    with output.open("wb") as sink:
        top = subprocess.Popen(
            [GOVFLOW, "serve", "--role", role],
            env={**env, "GOVFLOW_DATA_DIR": str(home), **extra},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )
    return Serving(top, output, top.pid, set())


def wait_running(serving: Serving) -> None:
    """Until serve says it runs; record what it started."""
    deadline = time.monotonic() + 180
    while READY not in serving.text():
        assert serving.top.poll() is None, serving.text()
        assert time.monotonic() < deadline, serving.text()
        time.sleep(0.2)
    serving.started = descendants(serving.top.pid)


class TestScaledOut:
    """A receiver and a runner, each its own serve, on one ledger and one Prefect server."""

    def test_each_role_starts_its_piece_alone_and_is_ready(
        self, shared: dict[str, str], tmp_path: Path
    ) -> None:
        """No Prefect server or stand-in of their own; /readyz 200 on both; SIGTERM stops."""
        receiver_port, health_port = free_port(), free_port()
        receiver = start_role(
            "receiver", shared, tmp_path / "r", GOVFLOW_RECEIVER_PORT=str(receiver_port)
        )
        runner = start_role(
            "runner", shared, tmp_path / "w", GOVFLOW_RUNNER_HEALTH_PORT=str(health_port)
        )
        try:
            wait_running(receiver)
            wait_running(runner)
            for serving, piece in ((receiver, "govflow.receiver"), (runner, "flows.runner")):
                commands = [p.command for p in serving.started]
                assert any(piece in c for c in commands), commands
                assert not any("prefect server" in c or "sandbox." in c for c in commands)
            for port in (receiver_port, health_port):
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                assert answer.status_code == 200, answer.text
            for serving in (receiver, runner):
                os.kill(serving.top.pid, signal.SIGTERM)
            for serving in (receiver, runner):
                assert left_behind(serving) == []
        finally:
            for serving in (receiver, runner):
                for proc in serving.started:
                    if alive(proc):
                        os.kill(proc.pid, signal.SIGKILL)
                if serving.top.poll() is None:
                    serving.top.kill()
                serving.top.wait()
