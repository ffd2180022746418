"""Throughput with one runner and with two, on one PostgreSQL ledger and one machine.

    python -m bench runners                    # 30 requests, 1 and 2 runners, twice each
    GOVFLOW_BENCH_RUNNERS_N=60 python -m bench runners

The walk is `bench field`'s throughput phase (the real `govflow serve` with its own Prefect
server and stand-ins, N tickets filed at once, N simulated people walking them to DONE with
no think time). For two runners a second `govflow serve --role runner` joins the same
Prefect server, ledger and stand-ins, as a second machine would. The sizes alternate
(1, 2, 1, 2) so that a change in the machine's load from other work falls on both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import field
from bench.__main__ import table
from govflow.prefect_server import free_port
from govflow.supervisor import (
    SANDBOX_JIRA_TOKEN,
    SANDBOX_JIRA_USER,
    SANDBOX_SIGNING_SECRET,
    SANDBOX_WEBHOOK_SECRET,
)
from sandbox.slack.seed import EXAMPLE_WORKSPACE

API = re.compile(r"\(API (http://\S+/api)\)")


def run(*, quick: bool) -> list[dict[str, object]]:
    """Throughput rows for 1 and 2 runners, alternating; `quick`: one walk each of 10."""
    n = int(os.environ.get("GOVFLOW_BENCH_RUNNERS_N", "10" if quick else "30"))
    order = [1, 2] if quick else [1, 2, 1, 2]
    rows: list[dict[str, object]] = []
    for runners in order:
        field.say(f"runners: {runners} runner(s), {n} requests, postgresql")
        with extra_runners(runners - 1):
            result = field.walk_field("postgresql", n, burners=0)
        row = {**field.throughput_row("postgresql", result), "runners": runners}
        row["load"] = round(sum(result.load) / len(result.load), 1) if result.load else None
        field.say(table([row]))
        rows.append(row)
    return rows


@contextmanager
def extra_runners(count: int) -> Iterator[None]:
    """While active, each `field._serve` also starts `count` more runners beside its own."""
    original = field._serve
    if count == 0:
        yield
        return

    @contextmanager
    def serve_with_runners(tmp: Path, database_url: str, n: int) -> Iterator[field.Served]:
        with original(tmp, database_url, n) as served:
            api = field._printed(tmp / "serve.log", API, _NoProcess())  # type: ignore[arg-type]
            processes = [
                _start_runner(tmp, i, database_url, served, api) for i in range(1, count + 1)
            ]
            try:
                yield served
            finally:
                for process in processes:
                    process.terminate()
                    process.wait(timeout=60)

    field._serve = serve_with_runners
    try:
        yield
    finally:
        field._serve = original


class _NoProcess:
    """`field._printed` watches a process; the serve's own wait covers that already."""

    def poll(self) -> None:
        """Never exited."""
        return None


def _start_runner(
    tmp: Path, index: int, database_url: str, served: field.Served, api: str
) -> subprocess.Popen[bytes]:
    """`govflow serve --role runner` on the serve's Prefect server, ledger and stand-ins."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVFLOW_", "PREFECT_"))}
    env.update(
        {
            "PREFECT_API_URL": api,
            "GOVFLOW_DATABASE_URL": database_url,
            "GOVFLOW_RULES": str(tmp / "rules.yaml"),
            "GOVFLOW_DATA_DIR": str(tmp / f"runner-{index}"),
            "GOVFLOW_RUNNER_HEALTH_PORT": str(port),
            "GOVFLOW_JIRA_URL": served.jira_url,
            "GOVFLOW_JIRA_USER": SANDBOX_JIRA_USER,
            "GOVFLOW_JIRA_TOKEN": SANDBOX_JIRA_TOKEN,
            "GOVFLOW_JIRA_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET,
            "GOVFLOW_SLACK_API_URL": f"{served.slack_url}/api/",
            "GOVFLOW_SLACK_BOT_TOKEN": EXAMPLE_WORKSPACE.bot_token,
            "GOVFLOW_SLACK_SIGNING_SECRET": SANDBOX_SIGNING_SECRET,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    log = (tmp / f"runner-{index}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "govflow", "serve", "--role", "runner"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    field._wait_http(f"http://127.0.0.1:{port}/readyz", process, timeout=180.0)
    return process
