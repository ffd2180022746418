"""Acknowledgement latency of the Slack receiver under bursts of concurrent clicks.

    python -m bench ack                 # 10 bursts of 20 clicks; SQLite and PostgreSQL ledgers
    python -m bench ack --quick         # 3 bursts of 20
    python -m bench.ack [--database sqlite|postgres] [--rounds 10] [--burst 20]
                        [--no-threadpool] [--cold-users] [--slack-latency S]

Three processes, as in production: the Slack stand-in (`python -m sandbox.slack_server`), the
receiver (uvicorn) and this one, which asks the stand-in to deliver `burst` signed clicks at
once over real HTTP (each an approval of its own request, seeded in SIGN_OFF) and reads how
long the receiver took to answer each one, as Slack would see it. p50/p99 are nearest-rank.

Here the receiver's `advance` trigger is a no-op, so the figures are the receiver's alone;
`bench.hitl` runs the same measurement against the production receiver
(`python -m govflow.receiver`), whose trigger is `ledger_only` too since the runners take
their work from the ledger (before, it submitted an `advance` background task to Prefect).

By hand: `--no-threadpool` dispatches to Bolt on the event loop itself, which is what
`slack_bolt.adapter.starlette.SlackRequestHandler` does, for comparison; `--cold-users`
makes every click come from someone the receiver has not seen (a `users.info` before the
ack) and `--slack-latency 0.1` gives that call Slack's real-world round trip.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.lifecycle import Claim, SubmitAssessment, apply, begin
from domain.people import Person
from govflow.prefect_server import free_port
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import RequestRow
from integrations.slack.approval_card import approval_view, render_approval_card
from sandbox.faults import Fault, FaultKind
from sandbox.slack.sandbox import RemoteSlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from tests.receiver.support import assessment
from tests.support.databases import POSTGRES_URL, postgres_dsn, postgres_schema_url

SECRET = "bench-signing-secret"
HANNAH = EXAMPLE_WORKSPACE.user_by_email("hannah.schulz@example.com")
FATIMA = EXAMPLE_WORKSPACE.user_by_email("fatima.zahra@example.com")
CHANNEL = EXAMPLE_WORKSPACE.channel_by_name("product-moderation").id
TARGET_P99_MS = 300.0


@dataclass(frozen=True)
class AckResult:
    """Ack latencies (ms, as the Slack stand-in saw them) and CPU per click."""

    database: str
    rounds: int
    burst: int
    samples: list[float]
    receiver_cpu_ms: float
    slack_cpu_ms: float

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)


def run(*, quick: bool) -> list[dict[str, object]]:
    """Bursts of 20 against a receiver with a no-op trigger, on SQLite then PostgreSQL."""
    rounds = 3 if quick else 10
    rows: list[dict[str, object]] = []
    for database in ("sqlite", "postgresql"):
        with ledger_url(database) as url:
            if url is None:
                rows.append({"metric": f"ack, {database}: unreachable at {POSTGRES_URL}"})
                continue
            result = measure(url, rounds=rounds, burst=20)
        rows.append(row(result, "trigger no-op"))
    return rows


def row(result: AckResult, trigger: str) -> dict[str, object]:
    """One bench table row for an ack measurement."""
    return {
        "metric": f"ack p50/p99 ms, {result.burst} concurrent clicks, {result.database}, {trigger}",
        "n": len(result.samples),
        "govflow p50": result.p50,
        "govflow p95/p99": result.p99,
        "target": f"p99 < {TARGET_P99_MS:.0f} ms",
        "result": "PASS" if result.p99 < TARGET_P99_MS else "FAIL",
    }


@contextmanager
def ledger_url(database: str) -> Iterator[str | None]:
    """A URL of a fresh, empty ledger (SQLite file or PostgreSQL schema); None if unreachable."""
    if database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="govflow-bench-ack-") as tmp:
            yield f"sqlite:///{tmp}/ledger.db"
        return
    try:
        psycopg.connect(postgres_dsn(), connect_timeout=3).close()
    except psycopg.OperationalError:
        yield None
        return
    with postgres_schema_url() as url:
        yield url


def measure(
    database_url: str,
    *,
    rounds: int,
    burst: int,
    prefect_env: Mapping[str, str] | None = None,
    threadpool: bool = True,
    cold_users: bool = False,
    slack_latency: float = 0.0,
) -> AckResult:
    """Seed, start the stand-in and the receiver, fire `rounds` bursts, return the latencies.

    With `prefect_env` (PREFECT_API_URL, PREFECT_HOME) the receiver is the production one,
    `python -m govflow.receiver`, with that Prefect server in its environment; without it,
    `create_app` with a trigger that does nothing.
    """
    total = rounds * burst + 1
    cards = seed_requests(database_url, total)
    slack_proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack_server", "--port", "0", "--seed"],
        stdout=subprocess.PIPE,
        text=True,
    )
    receiver: subprocess.Popen[bytes] | None = None
    slack: RemoteSlackSandbox | None = None
    with tempfile.TemporaryDirectory(prefix="govflow-bench-ack-") as tmp:
        try:
            assert slack_proc.stdout is not None
            found = re.search(r"(http://127\.0\.0\.1:\d+)/api/", slack_proc.stdout.readline())
            assert found is not None, "the Slack stand-in did not say where it listens"
            slack_url = found.group(1)
            port = free_port()
            env = {
                **os.environ,
                **(prefect_env or {}),
                "GOVFLOW_SLACK_BOT_TOKEN": EXAMPLE_WORKSPACE.bot_token,
                "GOVFLOW_SLACK_API_URL": f"{slack_url}/api/",
                "GOVFLOW_SLACK_SIGNING_SECRET": SECRET,
                "GOVFLOW_DATABASE_URL": database_url,
                "GOVFLOW_DATA_DIR": tmp,
            }
            if prefect_env is not None:
                argv = [sys.executable, "-m", "govflow.receiver", "--port", str(port)]
            else:
                argv = [sys.executable, "-m", "bench.ack", "--serve", str(port)]
                if not threadpool:
                    argv.append("--no-threadpool")
            receiver = subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            slack = RemoteSlackSandbox(slack_url)
            _wait(f"http://127.0.0.1:{port}/healthz", receiver)
            slack.configure_receiver(f"http://127.0.0.1:{port}/slack/events", SECRET)
            return _fire(
                slack, cards, receiver.pid, slack_proc.pid, database_url,
                rounds=rounds, burst=burst, cold_users=cold_users, slack_latency=slack_latency,
            )  # fmt: skip
        finally:
            if slack is not None:
                slack.close()
            for proc in (receiver, slack_proc):
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()


def _fire(
    slack: RemoteSlackSandbox,
    cards: list[tuple[str, list[dict[str, Any]]]],
    receiver_pid: int,
    slack_pid: int,
    database_url: str,
    *,
    rounds: int,
    burst: int,
    cold_users: bool,
    slack_latency: float,
) -> AckResult:
    total = len(cards)
    posted = [
        slack.post_as_user(CHANNEL, EXAMPLE_WORKSPACE.bot.id, t, blocks=b).ts for t, b in cards
    ]
    warm = slack.click(CHANNEL, posted[0], "govflow.approve", HANNAH.id)
    assert warm.status == 200, warm
    clickers = [HANNAH.id] * (total - 1)
    if cold_users:
        # A new person per click: each one costs a users.info before the ack.
        clickers = [f"U0BENCH{n:04d}" for n in range(total - 1)]
        for user in clickers:
            slack.add_user(user, user.lower(), email=f"{user.lower()}@example.com")
    if slack_latency:
        slack.add_fault("users.info", Fault(kind=FaultKind.LATENCY, delay=slack_latency), total)
    samples: list[float] = []
    cpu_before = (_cpu_seconds(receiver_pid), _cpu_seconds(slack_pid))
    with ThreadPoolExecutor(max_workers=burst) as pool:
        for r in range(rounds):
            window = slice(1 + r * burst, 1 + (r + 1) * burst)
            pairs = list(zip(posted[window], clickers[r * burst :], strict=False))
            results = list(
                pool.map(lambda p: slack.click(CHANNEL, p[0], "govflow.approve", p[1]), pairs)
            )
            assert all(d.status == 200 for d in results), [d.status for d in results]
            samples += [d.elapsed * 1000 for d in results]
            time.sleep(0.5)  # let the follow-ups (ephemerals, triggers) drain between bursts
    clicks = len(samples)
    return AckResult(
        database="PostgreSQL" if database_url.startswith("postgresql") else "SQLite",
        rounds=rounds,
        burst=burst,
        samples=samples,
        receiver_cpu_ms=(_cpu_seconds(receiver_pid) - cpu_before[0]) / clicks * 1000,
        slack_cpu_ms=(_cpu_seconds(slack_pid) - cpu_before[1]) / clicks * 1000,
    )


def seed_requests(database_url: str, count: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """`count` requests in SIGN_OFF, each waiting for Product; their approval cards."""
    engine = make_engine(database_url)
    upgrade(engine)
    rules = load_rules(DEFAULT_RULES)
    route = next(r for r in rules.routing if r.name == "listing-policy-change")
    at = datetime.now(UTC) - timedelta(minutes=1)
    expert = Person(slack_id=FATIMA.id, email=FATIMA.email)
    requester = Person(jira_account_id="acc-bench", email="bench@example.com")
    states = []
    with make_sessionmaker(engine).begin() as session:
        for n in range(1, count + 1):
            key = f"BENCH-{n}"
            state = begin(key, requester, route, rules, at)
            for event in (
                Claim(event_id=f"{key}:c", actor=expert, at=at),
                SubmitAssessment(
                    event_id=f"{key}:a", actor=expert, at=at, assessment=assessment(expert, at)
                ),
            ):
                state = apply(state, event, rules, (), at).state
            session.add(
                RequestRow(
                    jira_key=key,
                    jira_id=str(n),
                    project="BENCH",
                    stage=state.stage.value,
                    state=state.model_dump(mode="json"),
                    facts={},
                    fingerprint="",
                    summary=key,
                    jira_updated=at,
                    created_at=at,
                    updated_at=at,
                )
            )
            states.append(state)
    engine.dispose()
    return [
        render_approval_card(
            approval_view(
                state,
                "product",
                rules,
                summary=state.key,
                jira_url="https://j/x",
                thread_url="https://s/x",
            )
        )
        for state in states
    ]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank (the baseline's definition)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def serve(port: int, threadpool: bool) -> None:
    """The receiver process with a no-op trigger: create_app over the environment's settings."""
    import uvicorn

    from govflow.receiver import create_app
    from govflow.runtime import Runtime

    def trigger(request_id: int) -> None:
        """Advance is not what is measured here."""

    app = create_app(Runtime.load(), advance=trigger, in_threadpool=threadpool)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the receiver exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    """By hand: one measurement with the options in the module docstring, printed."""
    parser = argparse.ArgumentParser(prog="python -m bench.ack")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--no-threadpool", action="store_true")
    parser.add_argument("--cold-users", action="store_true", help="every click by a new person")
    parser.add_argument("--slack-latency", type=float, default=0.0, help="users.info delay, s")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, threadpool=not args.no_threadpool)
        return
    database = "postgresql" if args.database == "postgres" else "sqlite"
    with ledger_url(database) as url:
        if url is None:
            raise SystemExit(f"PostgreSQL unreachable at {POSTGRES_URL}")
        result = measure(
            url,
            rounds=args.rounds,
            burst=args.burst,
            threadpool=not args.no_threadpool,
            cold_users=args.cold_users,
            slack_latency=args.slack_latency,
        )
    samples = result.samples
    mode = "threadpool" if not args.no_threadpool else "event loop (adapter style)"
    print(
        f"{result.database}, {mode}, {args.rounds} bursts of {args.burst}"
        f"{', new clicker each' if args.cold_users else ''}"
        f"{f', users.info +{args.slack_latency * 1000:.0f} ms' if args.slack_latency else ''}, "
        f"{os.cpu_count()} CPUs: p50 {statistics.median(samples):.0f} ms, "
        f"p90 {percentile(samples, 90):.0f} ms, p99 {result.p99:.0f} ms, "
        f"max {max(samples):.0f} ms; CPU per click: receiver {result.receiver_cpu_ms:.1f} ms, "
        f"Slack stand-in {result.slack_cpu_ms:.1f} ms"
    )


if __name__ == "__main__":
    main()
