"""Human-in-the-loop latency: govflow against the plain Prefect baseline, on one Prefect server.

    python -m bench hitl            # 5 requests at poll 10 s, then at poll 1 s; ack 10 bursts
    python -m bench hitl --quick    # 2 requests at poll 1 s; ack 3 bursts
    python -m bench --json out.json hitl     # also every sample, as JSON

One run starts a fresh Prefect server (SQLite in a temporary PREFECT_HOME) and, on it:

1. govflow's real path, per runner poll (PREFECT_RUNNER_POLL_FREQUENCY): the Jira and Slack
   stand-ins and the receiver (`govflow.receiver.create_app` on a ThreadedServer, with the
   production trigger, `ledger_only`: it records, the runner's dispatcher finds the event in
   the ledger) in this process over a migrated
   SQLite ledger with the SOPs imported (`govflow.startup.prepare_ledger`); `python -m
   flows.runner` as a separate process with the environment `govflow serve` gives it (the
   GOVFLOW_* of the stand-ins and ledger, this server's PREFECT_API_URL, the same PREFECT_HOME),
   whose dispatcher runs `advance`. N requests are filed in Jira and taken in by `intake`;
   then, one request at a time, people claim, assess, approve and publish by Slack clicks and
   modal submissions. Three gates per request are timed, each after a random 0..poll s pause:
   (a) assessment submitted -> first approval card posted, (b) the approval that completes
   sign-off -> SOP owner card posted, (c) Publish -> announcement posted. A gate's time runs from
   just before the click's HTTP request to the Slack stand-in's own timestamp of the message
   (its `ts`, taken when it stored the message): no polling in the figure.
2. The fixed baseline, `../shared/bench/prefect_hitl_baseline.py --n N --poll P --json ...`,
   with PREFECT_API_URL set to the same server, after govflow's runner has stopped; its
   JSON gives p50/p95 of click -> next stage message over the same three gates.
3. Receiver acknowledgement under bursts of 20 concurrent signed clicks (bench.ack) against
   the production receiver, `python -m govflow.receiver` (it records and answers; since the
   dispatcher it submits nothing to Prefect), on a SQLite ledger and, when reachable, a
   PostgreSQL one.

Targets (issue 3): ack p99 < 300 ms; click -> next stage p95 <= 0.5 x the baseline's p95.
p50/p95/p99 are nearest-rank, as in the baseline. GOVFLOW_BENCH_HITL_N overrides N and
GOVFLOW_BENCH_BASELINE the baseline script's path.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench import ack
from config.loader import load_rules
from config.settings import load_settings
from domain.rules import Rules
from domain.signoff import required_approvals
from domain.stages import Stage
from govflow.prefect_server import start_prefect_server
from govflow.runtime import dispose_engines
from govflow.startup import prepare_ledger
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow
from integrations.slack.action_ids import ActionId
from reliability.people import settled
from sandbox.jira.seed import EXAMPLE_ISSUES
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from tests.support.databases import POSTGRES_URL
from tests.support.stand_ins import govflow_environment

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(
    os.environ.get("GOVFLOW_BENCH_BASELINE", ROOT.parent / "shared/bench/prefect_hitl_baseline.py")
)
SIGNING_SECRET = "bench-signing-secret"
ISSUE = EXAMPLE_ISSUES[0]  # counterfeit handbags, MY: review-standard-listing, 4 approvals
GATES = (
    ("a", "assessment -> 1st approval card", "gate-1->gate-2"),
    ("b", "last approval -> SOP owner card", "gate-2->gate-3"),
    ("c", "Publish -> announcement", "gate-3->done"),
)
WAIT_S = 180.0
ACK_TARGET_MS = ack.TARGET_P99_MS
RATIO_TARGET = 0.5
ASSESSMENT = {
    "recommendation": "PROCEED",
    "risk": "MEDIUM",
    "proposed_change": "### 3.2 Luxury handbags\nA serial-number photo above MYR 1,500.",
    "affected_sops": ["SOP-LST-002"],
    "rationale": "Counterfeit complaints rose 40%; a second check is cheap.",
}
# Every sample of the last run, for `python -m bench --json`.
DETAILS: dict[str, Any] = {}


def run(*, quick: bool) -> list[dict[str, object]]:
    """The whole comparison on one fresh Prefect server; one row per metric."""
    n = int(os.environ.get("GOVFLOW_BENCH_HITL_N", "2" if quick else "5"))
    polls = (1,) if quick else (10, 1)
    rounds = 3 if quick else 10
    DETAILS.clear()
    DETAILS.update(requests=n, polls=list(polls), ack_bursts=rounds, runs=[])
    rows: list[dict[str, object]] = []
    with Bench() as bench:
        for poll in polls:
            say(f"hitl: govflow, {n} requests, runner poll {poll} s")
            samples = bench.govflow(poll, n)
            say(f"hitl: baseline, --n {n} --poll {poll}")
            baseline = bench.baseline(poll, n)
            DETAILS["runs"].append({"poll_s": poll, "govflow": samples, "baseline": baseline})
            rows += compare(poll, samples, baseline)
        for database in ("sqlite", "postgresql"):
            with ack.ledger_url(database) as url:
                if url is None:
                    rows.append({"metric": f"ack: PostgreSQL unreachable at {POSTGRES_URL}"})
                    continue
                say(f"hitl: ack, {rounds} bursts of 20, {database}")
                result = ack.measure(url, rounds=rounds, burst=20, prefect_env=bench.prefect_env)
            DETAILS[f"ack_{database}_ms"] = result.samples
            rows.append(ack.row(result, "production receiver"))
    return rows


def compare(
    poll: int, samples: list[dict[str, Any]], baseline: dict[str, Any]
) -> list[dict[str, object]]:
    """Rows for one poll: each gate and all gates, govflow against the baseline."""
    summary = baseline.get("summary", {})
    rows: list[dict[str, object]] = []
    for gate, label, theirs in (*GATES, ("all", "all gates", "all")):
        ours = [s["ms"] for s in samples if gate in ("all", s["gate"])]
        base = summary.get(theirs)
        row: dict[str, object] = {
            "metric": f"click -> next stage p50/p95 ms, {label}",
            "poll s": poll,
            "n": len(ours),
            "govflow p50": ack.percentile(ours, 50),
            "govflow p95/p99": ack.percentile(ours, 95),
        }
        if base:
            p95 = base["p95_s"] * 1000
            ratio = ack.percentile(ours, 95) / p95
            row.update(
                {
                    "baseline p50": base["p50_s"] * 1000,
                    "baseline p95": p95,
                    "ratio p95": f"{ratio:.2f}",
                    "target": f"<= {RATIO_TARGET} x baseline",
                    "result": "PASS" if ratio <= RATIO_TARGET else "FAIL",
                }
            )
        else:
            row["result"] = "no baseline"
        rows.append(row)
    return rows


def say(text: str) -> None:
    """Progress on stderr; the table goes to stdout at the end."""
    print(text, file=sys.stderr, flush=True)


@dataclass
class Bench:
    """The Prefect server, the stand-ins, the ledger and the receiver shared by every phase."""

    stack: ExitStack = field(default_factory=ExitStack)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="govflow-hitl-")))
    prefect_env: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> Bench:
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def _start(self) -> None:
        self.stack.callback(_remove, self.tmp)
        home = self.tmp / "prefect"
        server, api_url = start_prefect_server(home, ui=False, log_path=self.tmp / "server.log")
        self.stack.callback(_stop, server)
        self.prefect_env = {"PREFECT_API_URL": api_url, "PREFECT_HOME": str(home)}
        self.jira = self.stack.enter_context(JiraSandbox(seed=True))
        self.slack = self.stack.enter_context(SlackSandbox(seed=True))
        database_url = f"sqlite:///{self.tmp / 'ledger.db'}"
        env = {
            **govflow_environment(self.jira, self.slack, database_url),
            "GOVFLOW_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "GOVFLOW_DATA_DIR": str(self.tmp / "data"),
            **self.prefect_env,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.stack.enter_context(environment(env))
        self.stack.callback(dispose_engines)
        settings = load_settings()
        self.rules = load_rules(settings.rules)
        engine = make_engine(database_url)
        self.stack.callback(engine.dispose)
        prepare_ledger(settings, self.rules, engine, datetime.now(UTC))
        self.sessions = make_sessionmaker(engine)

        from govflow.receiver import create_app, ledger_only
        from govflow.runtime import Runtime

        app = create_app(Runtime.load(), advance=ledger_only)
        receiver = self.stack.enter_context(ThreadedServer(app))
        self.slack.configure_receiver(f"{receiver.url}/slack/events", SIGNING_SECRET)

    @contextmanager
    def runner(self, poll: int) -> Iterator[None]:
        """`python -m flows.runner` with this bench's environment and the given poll."""
        env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": str(poll)}
        with open(self.tmp / f"runner-poll-{poll}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flows.runner"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield
        except BaseException:
            say((self.tmp / f"runner-poll-{poll}.log").read_text()[-3000:])
            raise
        finally:
            _stop(process)

    def govflow(self, poll: int, n: int) -> list[dict[str, Any]]:
        """N requests through the three timed gates; one sample per gate per request."""
        from flows.intake import intake

        file = self.jira.file_issue
        keys = [file(reporter=ISSUE.reporter, fields=ISSUE.fields) for _ in range(n)]
        intake()  # before the runner starts, so its scheduled intake finds nothing new
        samples: list[dict[str, Any]] = []
        with self.runner(poll):
            for key in keys:
                request = Request(self, key, poll)
                try:
                    for gate, ms in request.walk():
                        at = request.clicked_at
                        samples.append({"request": key, "gate": gate, "ms": ms, "at": at})
                        say(f"  {key} gate {gate}: {ms:8.1f} ms")
                except Exception:
                    say(request.story())
                    raise
        for sample in slow(samples):
            sample["ran"] = flow_runs_during(sample["at"], sample["ms"] / 1000)
            say(f"  slow: {sample['request']} gate {sample['gate']}, {sample['ms']:.0f} ms; ran:")
            for line in sample["ran"]:
                say(f"    {line}")
        return samples

    def baseline(self, poll: int, n: int) -> dict[str, Any]:
        """The fixed baseline script on the same server; its JSON, or {} when it failed."""
        if not BASELINE.exists():
            say(f"hitl: no baseline at {BASELINE}")
            return {}
        out = self.tmp / f"baseline-poll-{poll}.json"
        log = self.tmp / f"baseline-poll-{poll}.log"
        argv = [sys.executable, str(BASELINE), "--n", str(n), "--poll", str(poll)]
        with open(log, "wb") as sink:
            done = subprocess.run(
                [*argv, "--json", str(out)],
                env={**os.environ, **self.prefect_env},
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
        if done.returncode != 0 or not out.exists():
            say(f"hitl: baseline exited with {done.returncode}:\n{log.read_text()[-3000:]}")
            return {}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def slow(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Samples over twice the median of their run: the ones worth explaining."""
    if not samples:
        return []
    middle = sorted(s["ms"] for s in samples)[len(samples) // 2]
    return [s for s in samples if s["ms"] > 2 * middle]


def flow_runs_during(start: float, seconds: float) -> list[str]:
    """Every flow run that was running in [start - 2 s, start + seconds], timed from `start`."""
    from prefect import get_client

    window = (start - 2.0, start + seconds)
    lines = []
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            page = client.read_flow_runs(limit=200, offset=offset)
            for run in page:
                began = run.start_time.timestamp() if run.start_time else None
                ended = run.end_time.timestamp() if run.end_time else None
                if began is None or began > window[1] or (ended is not None and ended < window[0]):
                    continue
                created = run.created.timestamp() if run.created else began
                line = (
                    f"{run.name}: created {created - start:+.2f} s, started {began - start:+.2f}"
                    f" s, ended {(ended - start) if ended else float('nan'):+.2f} s"
                )
                if run.parent_task_run_id is not None:
                    # A re-driven `advance` runs inside the watchdog's task: when did it start?
                    task = client.read_task_run(run.parent_task_run_id)
                    submitted = task.created.timestamp() if task.created else float("nan")
                    picked = task.start_time.timestamp() if task.start_time else float("nan")
                    line += (
                        f" (its parent task: created {submitted - start:+.2f} s,"
                        f" started {picked - start:+.2f} s)"
                    )
                lines.append(line)
            if len(page) < 200:
                return sorted(lines, key=lambda line: line.split("started ")[1])
            offset += 200


class Request:
    """One request taken through its gates by clicks, as its people would."""

    def __init__(self, bench: Bench, key: str, poll: int) -> None:
        self.bench = bench
        self.key = key
        self.poll = poll
        self.clicked_at = 0.0
        self.sessions: sessionmaker[Session] = bench.sessions
        self.rules: Rules = bench.rules

    def walk(self) -> Iterator[tuple[str, float]]:
        """Claim, assess, approve, publish; yields (gate, ms) for the three timed gates."""
        row = eventually(lambda: self._row(), f"{self.key} in the ledger")
        assert row.expert_team is not None, f"{self.key} was not routed to experts"
        expert = self._people(row.expert_team)[0]
        self._settle()
        self._click("assignment:0", ActionId.CLAIM, expert)
        self._settle()  # the first one also waits for the runner's dispatcher to be up

        slack = self.bench.slack
        opened = len(slack.views(user=expert))
        self._click("assignment:0", ActionId.ASSESS, expert)
        view = eventually(lambda: slack.views(user=expert)[opened:], "the assessment modal")[-1]
        self._pause()
        started = self.clicked_at = time.time()
        # Each request changes the SOP afresh: the same text again would be no change at all.
        change = f"{ASSESSMENT['proposed_change']} ({self.key})"
        answer = slack.submit_view(view.id, expert, {**ASSESSMENT, "proposed_change": change})
        assert answer.status == 200 and answer.body == "", answer.body
        round_ = eventually(lambda: self._signoff_round(), f"{self.key} in sign-off")
        first = eventually(lambda: self._first_approval_card(round_), "an approval card")
        yield "a", (first - started) * 1000

        self._settle()
        route = next(r for r in self.rules.routing if r.name == row.route_name)
        approvals = [
            (s.team, person)
            for s in route.signoff
            for person in self._people(s.team)[
                : required_approvals(s.quorum, self.rules.teams[s.team].roster)
            ]
        ]
        for team, person in approvals[:-1]:
            self._click(f"approval:{round_}:{team}", ActionId.APPROVE, person)
            self._settle()
        team, person = approvals[-1]
        self._pause()
        started = self.clicked_at = time.time()
        self._click(f"approval:{round_}:{team}", ActionId.APPROVE, person)
        card = eventually(lambda: self._row().facts.get("sop_update_card"), "the SOP owner card")
        yield "b", (self._posted_at(card) - started) * 1000

        self._settle()
        state = self._row().state or {}
        owner = self._people(state["sop_owner_team"])[0]
        channel = self.rules.sops.announce_channels[0]
        self._pause()
        started = self.clicked_at = time.time()
        self._click(card.removeprefix(f"{self.key}:"), ActionId.SOP_PUBLISH, owner)
        announced = eventually(
            lambda: [
                float(m.ts)
                for m in slack.messages(channel)
                if float(m.ts) > started and "is published" in m.text
            ],
            "the announcement",
        )[0]
        yield "c", (announced - started) * 1000
        eventually(lambda: self._row().stage == Stage.DONE, f"{self.key} done")
        self._settle()

    def story(self) -> str:
        """The request's stage, events and audit records, to explain a failed walk."""
        with self.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == self.key))
            if row is None:
                return f"{self.key}: not in the ledger"
            lines = [f"{self.key}: stage {row.stage}, assignee {row.assignee}"]
            for event in session.scalars(select(EventRow).where(EventRow.request_id == row.id)):
                lines.append(f"  event {event.kind} by {event.actor}: {event.processed_at}")
            for audit in session.scalars(select(AuditRow).where(AuditRow.request_id == row.id)):
                lines.append(f"  audit {audit.action} by {audit.actor}: {audit.reason}")
        return "\n".join(lines)

    def _pause(self) -> None:
        """The human's click lands anywhere in the runner's poll cycle (as the baseline)."""
        time.sleep(random.uniform(0, self.poll))

    def _people(self, team: str) -> list[str]:
        return [p for p in self.rules.teams[team].roster if p.startswith("U")]

    def _row(self) -> RequestRow:
        with self.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == self.key))
            assert row is not None, self.key
            session.expunge(row)
            return row

    def _signoff_round(self) -> int | None:
        row = self._row()
        if row.stage != Stage.SIGN_OFF or row.state is None:
            return None
        return int(row.state["round"])

    def _outbox(self, session: Session, key: str) -> tuple[str, str] | None:
        """Channel and ts of the message an outbox effect posted, once it is delivered."""
        row = session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == key))
        if row is None or "ts" not in row.result:
            return None
        return str(row.result["channel"]), str(row.result["ts"])

    def _posted_at(self, outbox_key: str) -> float:
        """When the Slack stand-in stored the message this outbox effect posted."""

        def posted() -> float | None:
            with self.sessions.begin() as session:
                found = self._outbox(session, outbox_key)
            return float(found[1]) if found else None

        return eventually(posted, outbox_key)

    def _first_approval_card(self, round_: int) -> float | None:
        prefix = f"{self.key}:approval:{round_}:"
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.idempotency_key.startswith(prefix))
            ).all()
            if not rows or any("ts" not in r.result for r in rows):
                return None
            return min(float(r.result["ts"]) for r in rows)

    def _click(self, suffix: str, action: ActionId, user: str) -> None:
        def card() -> tuple[str, str] | None:
            with self.sessions.begin() as session:
                return self._outbox(session, f"{self.key}:{suffix}")

        channel, ts = eventually(card, f"card {self.key}:{suffix}")
        answer = self.bench.slack.click(channel, ts, action, user)
        assert answer.status == 200, answer.body

    def _settle(self) -> None:
        """Wait until `advance` applied every event of the request and sent what was due."""

        def quiet() -> bool:
            with self.sessions.begin() as session:
                return settled(session, self.key, datetime.now(UTC))

        eventually(quiet, f"{self.key} settled")


def eventually(check: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    """Poll until `check` returns something truthy; only for sequencing, never for timing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"hitl: timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for this process (Prefect's settings included), then restore."""
    from prefect.context import refresh_global_settings_context

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    refresh_global_settings_context()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refresh_global_settings_context()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a child started in its own session, and its group, by its id."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
