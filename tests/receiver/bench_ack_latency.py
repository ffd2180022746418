"""Acknowledgement latency of the Slack receiver under bursts of concurrent clicks.

Not a test (no timed assertions in tests): run it by hand and read the numbers.

    python -m tests.receiver.bench_ack_latency [--database sqlite|postgres] [--rounds 10]
                                              [--burst 20] [--no-threadpool]

Three processes, as in production: the Slack stand-in, the receiver (uvicorn), and this
script, which asks the stand-in to deliver `burst` clicks at once (each on its own request's
approval card) and reads how long the receiver took to answer each one, as Slack would see
it. `--no-threadpool` dispatches to Bolt on the event loop itself, which is what
`slack_bolt.adapter.starlette.SlackRequestHandler` does, for comparison. `--cold-users` makes
every click come from someone the receiver has not seen (a `users.info` before the ack) and
`--slack-latency 0.1` gives that call Slack's real-world round trip.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.lifecycle import Claim, SubmitAssessment, apply, begin
from domain.people import Person
from govflow.prefect_server import free_port
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import RequestRow
from integrations.slack.cards import approval_view, render_approval_card
from sandbox.faults import Fault, FaultKind
from sandbox.slack.sandbox import RemoteSlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from tests.receiver.support import assessment
from tests.support.databases import postgres_schema_url

SECRET = "bench-signing-secret"
HANNAH = EXAMPLE_WORKSPACE.user_by_email("hannah.schulz@example.com")
FATIMA = EXAMPLE_WORKSPACE.user_by_email("fatima.zahra@example.com")
CHANNEL = EXAMPLE_WORKSPACE.channel_by_name("product-moderation").id


def serve(port: int, threadpool: bool) -> None:
    """The receiver process: create_app over the environment's settings, on uvicorn."""
    import uvicorn

    from govflow.receiver import create_app
    from govflow.runtime import Runtime

    def trigger(request_id: int) -> None:
        """Advance is not what is measured here."""

    app = create_app(Runtime.load(), advance=trigger, in_threadpool=threadpool)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


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
    cards = []
    for state in states:
        view = approval_view(
            state,
            "product",
            rules,
            summary=state.key,
            jira_url="https://j/x",
            thread_url="https://s/x",
        )
        cards.append(render_approval_card(view))
    return cards


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def main() -> None:
    """Start the stand-in and the receiver, fire bursts of clicks, print p50/p99."""
    parser = argparse.ArgumentParser()
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
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "postgres":
            with postgres_schema_url() as url:
                run(args, url, Path(tmp))
        else:
            run(args, f"sqlite:///{tmp}/ledger.db", Path(tmp))


def run(args: argparse.Namespace, database_url: str, tmp: Path) -> None:
    """One measurement against `database_url`."""
    total = args.rounds * args.burst + 1
    cards = seed_requests(database_url, total)
    slack_proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack_server", "--port", "0", "--seed"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert slack_proc.stdout is not None
    found = re.search(r"(http://127\.0\.0\.1:\d+)/api/", slack_proc.stdout.readline())
    assert found is not None
    slack_url = found.group(1)
    port = free_port()
    env = {
        **os.environ,
        "GOVFLOW_SLACK_BOT_TOKEN": EXAMPLE_WORKSPACE.bot_token,
        "GOVFLOW_SLACK_API_URL": f"{slack_url}/api/",
        "GOVFLOW_SLACK_SIGNING_SECRET": SECRET,
        "GOVFLOW_DATABASE_URL": database_url,
        "GOVFLOW_DATA_DIR": str(tmp),
    }
    argv = [sys.executable, "-m", "tests.receiver.bench_ack_latency", "--serve", str(port)]
    if args.no_threadpool:
        argv.append("--no-threadpool")
    receiver = subprocess.Popen(argv, env=env)
    slack = RemoteSlackSandbox(slack_url)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        slack.configure_receiver(f"http://127.0.0.1:{port}/slack/events", SECRET)
        posted = [
            slack.post_as_user(CHANNEL, EXAMPLE_WORKSPACE.bot.id, t, blocks=b).ts for t, b in cards
        ]
        warm = slack.click(CHANNEL, posted[0], "govflow.approve", HANNAH.id)
        assert warm.status == 200, warm
        clickers = [HANNAH.id] * (total - 1)
        if args.cold_users:
            # A new person per click: each one costs a users.info before the ack.
            clickers = [f"U0BENCH{n:04d}" for n in range(total - 1)]
            for user in clickers:
                slack.add_user(user, user.lower(), email=f"{user.lower()}@example.com")
        if args.slack_latency:
            delay = Fault(kind=FaultKind.LATENCY, delay=args.slack_latency)
            slack.add_fault("users.info", delay, times=total)
        samples: list[float] = []
        cpu_before = (_cpu_seconds(receiver.pid), _cpu_seconds(slack_proc.pid))
        with ThreadPoolExecutor(max_workers=args.burst) as pool:
            for r in range(args.rounds):
                window = slice(1 + r * args.burst, 1 + (r + 1) * args.burst)
                pairs = list(zip(posted[window], clickers[r * args.burst :], strict=False))
                results = list(
                    pool.map(lambda p: slack.click(CHANNEL, p[0], "govflow.approve", p[1]), pairs)
                )
                assert all(d.status == 200 for d in results), [d.status for d in results]
                samples += [d.elapsed * 1000 for d in results]
                time.sleep(0.5)  # let the follow-ups (ephemerals) drain between bursts
        clicks = len(samples)
        receiver_cpu = (_cpu_seconds(receiver.pid) - cpu_before[0]) / clicks * 1000
        slack_cpu = (_cpu_seconds(slack_proc.pid) - cpu_before[1]) / clicks * 1000
        mode = "threadpool" if not args.no_threadpool else "event loop (adapter style)"
        print(
            f"{args.database}, {mode}, {args.rounds} bursts of {args.burst}"
            f"{', new clicker each' if args.cold_users else ''}"
            f"{f', users.info +{args.slack_latency * 1000:.0f} ms' if args.slack_latency else ''}, "
            f"{os.cpu_count()} CPUs: p50 {statistics.median(samples):.0f} ms, "
            f"p90 {percentile(samples, 90):.0f} ms, p99 {percentile(samples, 99):.0f} ms, "
            f"max {max(samples):.0f} ms; CPU per click: receiver {receiver_cpu:.1f} ms, "
            f"Slack stand-in {slack_cpu:.1f} ms"
        )
    finally:
        slack.close()
        receiver.terminate()
        receiver.wait(timeout=10)
        slack_proc.terminate()
        slack_proc.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


if __name__ == "__main__":
    main()
