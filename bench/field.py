"""Many requests at once through the real `govflow serve`: latency under load, and throughput.

    python -m bench field                 # 30 requests; SQLite and PostgreSQL; both phases;
                                          # the plain-Prefect baseline with 30 requests
    python -m bench --quick field         # 10 requests, SQLite only, no baseline
    GOVFLOW_BENCH_FIELD_SCALE=10,30,100 python -m bench field   # throughput at each size
    GOVFLOW_BENCH_FIELD_RUNNERS=2,3 python -m bench field       # PostgreSQL with 2, 3 runners
    GOVFLOW_BENCH_FIELD_N=20 python -m bench --quick field      # another N
    GOVFLOW_BENCH_FIELD_DATABASES=postgresql python -m bench field     # one database
    GOVFLOW_BENCH_FIELD_PHASES=throughput,baseline python -m bench field   # some phases
    GOVFLOW_BENCH_FIELD_KEEP=1 ...        # keep each walk's folder (ledger, logs) to look into

What runs, as in production: `govflow serve` with all its children (its own Prefect server,
the Jira and Slack stand-ins, the runner with its dispatcher, the receiver), over a fresh
ledger (a SQLite file, or a fresh schema of the PostgreSQL at 127.0.0.1:5432) and rules whose
SOP folder has one SOP per request (parallel drafts of one SOP would test merge conflicts,
not speed). N complete tickets are filed in the Jira stand-in at once (its webhooks bring
them in) and N simulated people walk them to DONE concurrently, with no think time: signed
clicks and modal submissions over HTTP, looking at the ledger every 0.1 s for what they
wait on (`reliability.people.Walk`).

Two phases per database:
(a) latency under load: two CPU-burning processes keep the load above 4 on 2 cores. For every
    interaction, click -> next Slack message: from just before the HTTP request to the Slack
    stand-in's own time of govflow's next chat.postMessage or chat.update about that request
    (from its call log: no polling in the figure); filing -> thread root likewise. Per gate
    p50/p95/p99/max. From the ledger's received_at/processed_at: "lost" counts events never
    applied by the end of the walk, "late" those applied more than 5 s after they were
    recorded (where a missing trigger would show, behind the watchdog's re-drive).
    The "legs" rows split a click's time by who holds it: the receiver's answer (journal),
    event recorded -> applied (ledger), effect queued -> sent (outbox).
(b) throughput, without the burners: requests/min and gates/s from the first filing to the
    last DONE, and click -> next message p95 while all N move at once.
The baseline (`../shared/bench/prefect_hitl_baseline.py --throughput N --poll 1`) runs in the
same command on its own Prefect server, after govflow has stopped.

Targets (issue 10): under load max < 5 s, p99 < 1.5 s, 0 lost; throughput >= 10x the
baseline's requests/min with p95 < 1.5 s.

The bench's Prefect server keeps its state in a database of the ledger's kind: SQLite with a
SQLite ledger (the embedded default of `govflow serve`), a fresh PostgreSQL database with a
PostgreSQL ledger (production, DESIGN decision 9). GOVFLOW_BENCH_FIELD_PREFECT_DATABASE=
sqlite|postgresql forces one; GOVFLOW_BENCH_FIELD_WORKERS sets the runner's
GOVFLOW_ADVANCE_WORKERS.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from bench.__main__ import table
from config.loader import load_rules
from govflow.prefect_server import free_port, start_own_server
from govflow.supervisor import SANDBOX_JIRA_TOKEN, SANDBOX_JIRA_USER, SANDBOX_SIGNING_SECRET
from integrations.db.engine import make_reader_engine
from integrations.db.models import EventRow, OutboxRow, RequestRow
from reliability.people import Journal, Office, Walk
from reliability.soak import BASE_SOP, TEMPLATES, _affected_sop_field, sop_of
from sandbox.jira.control import RemoteJiraSandbox
from sandbox.slack.sandbox import RemoteSlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(
    os.environ.get("GOVFLOW_BENCH_BASELINE", ROOT.parent / "shared/bench/prefect_hitl_baseline.py")
)
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LATE_AFTER_S = 5.0
WALK_TIMEOUT_S = 900.0
MESSAGE_METHODS = ("chat.postMessage", "chat.update")
BURNER = "import os\nos.nice(0)\nwhile True:\n    pass\n"
DETAILS: dict[str, Any] = {}
KEY = re.compile(r"MODREQ-\d+")
# The Prefect server's own database: by default the ledger's kind (the embedded default is
# SQLite for both; production is PostgreSQL for both, DESIGN decision 9), or forced to one.
PREFECT_DATABASE = os.environ.get("GOVFLOW_BENCH_FIELD_PREFECT_DATABASE", "")
# More runners than the serve's own, for the throughput line per runner (PostgreSQL only).
RUNNERS = [int(r) for r in os.environ.get("GOVFLOW_BENCH_FIELD_RUNNERS", "2").split(",") if r]


def say(text: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(text, file=sys.stderr, flush=True)


def run(*, quick: bool) -> list[dict[str, object]]:
    """Both phases on each database, then the baseline; one row per phase and gate."""
    n = int(os.environ.get("GOVFLOW_BENCH_FIELD_N", 10 if quick else 30))
    scale = [int(s) for s in os.environ.get("GOVFLOW_BENCH_FIELD_SCALE", str(n)).split(",")]
    default = "sqlite" if quick else "sqlite,postgresql"
    databases = os.environ.get("GOVFLOW_BENCH_FIELD_DATABASES", default).split(",")
    rows: list[dict[str, object]] = []
    DETAILS.clear()
    phases = os.environ.get("GOVFLOW_BENCH_FIELD_PHASES", "latency,throughput").split(",")
    for database in databases:
        if "latency" in phases:
            say(f"field: {database}, {n} requests, 2 CPU burners")
            walked = walk_field(database, n, burners=2)
            loaded = latency_rows(database, walked) + part_rows(database, walked)
            say(table(loaded))
            rows += loaded
        for size in scale if "throughput" in phases else ():
            say(f"field: {database}, {size} requests, no burners")
            walked = walk_field(database, size, burners=0)
            row = throughput_row(database, walked)
            say(table([row, *part_rows(database, walked)]))
            rows += [row, *part_rows(database, walked)]
        for runners in RUNNERS if database == "postgresql" and "throughput" in phases else ():
            say(f"field: {database}, {n} requests, no burners, {runners} runners")
            result = walk_field(database, n, burners=0, runners=runners)
            row = {**throughput_row(database, result), "runners": runners}
            say(table([row]))
            rows.append(row)
    if not quick and "baseline" in os.environ.get("GOVFLOW_BENCH_FIELD_PHASES", "baseline"):
        say(f"field: baseline --throughput {n} --poll 1")
        rows.append(baseline_row(n))
    return rows


# --- one walk ------------------------------------------------------------------------------


@dataclass
class FieldResult:
    """What one walk of N requests measured."""

    requests: int
    done: int
    wall_s: float
    gates: int
    latencies: dict[str, list[float]] = field(default_factory=dict)
    lost: int = 0
    late: int = 0
    max_event_wait_s: float = 0.0
    # Each applied event's recorded -> applied seconds (read once, by `_event_waits`).
    event_waits: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    unmatched: int = 0
    # Where a click's time goes: receiver ack, event recorded -> applied, effect queued -> sent.
    parts: dict[str, list[float]] = field(default_factory=dict)


def walk_field(database: str, n: int, *, burners: int, runners: int = 1) -> FieldResult:
    """Serve, file N tickets at once, walk them all to DONE, measure."""
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="govflow-field-"))
        if os.environ.get("GOVFLOW_BENCH_FIELD_KEEP"):
            say(f"field: keeping {tmp} (ledger, serve and runner logs)")
        else:
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = stack.enter_context(_ledger(database, tmp))
        prefect_database = PREFECT_DATABASE or database
        served = stack.enter_context(_serve(tmp, url, n, runners, prefect_database))
        engine = make_reader_engine(url)
        stack.callback(engine.dispose)
        sessions = sessionmaker(engine)
        for _ in range(burners):
            stack.enter_context(_burner())
        load = Load()
        stack.enter_context(load.sampling())
        jira = RemoteJiraSandbox(served.jira_url, timeout=30)
        stack.callback(jira.close)
        slack = RemoteSlackSandbox(served.slack_url, timeout=30)
        stack.callback(slack.close)
        rules = load_rules(tmp / "rules.yaml")
        office = Office(
            slack=slack,  # type: ignore[arg-type]  # same methods, over HTTP
            sessions=sessions,
            rules=rules,
            journal=Journal(),
            look_every_s=0.1,
        )
        filed_at, keys = _file(jira, n)
        finished: dict[str, float] = {}

        def walk(key_sop: tuple[str, str]) -> None:
            key, sop = key_sop
            Walk(office, key, sop).run()
            finished[key] = time.time()

        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(walk, ks) for ks in keys]
            deadline = time.monotonic() + WALK_TIMEOUT_S
            for future in futures:
                future.result(timeout=max(1.0, deadline - time.monotonic()))
        wall = max(finished.values()) - min(filed_at.values())
        result = FieldResult(
            requests=n, done=len(finished), wall_s=wall, gates=office.journal.acknowledged()
        )
        result.load = load.samples
        _latencies(result, slack, office.journal, filed_at, sessions)
        _event_waits(result, sessions)
        _parts(result, office.journal, sessions)
        DETAILS.setdefault("walks", []).append(
            {"database": database, "burners": burners, "runners": runners, **result.__dict__}
        )
        return result


def _latencies(
    result: FieldResult,
    slack: RemoteSlackSandbox,
    journal: Journal,
    filed: dict[str, float],
    sessions: sessionmaker[Any],
) -> None:
    """Click -> govflow's next message about the request, from the Slack stand-in's call log."""
    owners = _message_owners(sessions)
    messages: dict[str, list[float]] = {}
    for call in slack.calls():
        if call.method not in MESSAGE_METHODS or call.http_status != 200:
            continue
        for key in _keys_of(call.args, owners):
            messages.setdefault(key, []).append(call.at)
    for times in messages.values():
        times.sort()

    def next_message(key: str, after: float) -> float | None:
        return next((t for t in messages.get(key, []) if t > after), None)

    for key, at in filed.items():
        _sample(result, "filed -> thread root", next_message(key, at), at)
    for entry in journal.all():
        if not entry.acknowledged or not entry.sent_at or entry.action.endswith("assess"):
            continue  # opening the form answers with the form itself, not a message
        _sample(result, entry.action, next_message(entry.key, entry.sent_at), entry.sent_at)


def _message_owners(sessions: sessionmaker[Any]) -> dict[tuple[str, str], str]:
    """(channel, ts) of every thread root and card govflow posted -> its request's key.

    A reply in a request's thread ("... claimed the request") need not name the request, and a
    card's update names it only if the card does: the ledger knows which is whose.
    """
    owners: dict[tuple[str, str], str] = {}
    with sessions() as session:
        for key, channel, ts in session.execute(
            select(RequestRow.jira_key, RequestRow.slack_channel, RequestRow.slack_thread_ts)
        ):
            if channel and ts:
                owners[(channel, ts)] = key
        for key, posted in session.execute(
            select(RequestRow.jira_key, OutboxRow.result).join(
                OutboxRow, OutboxRow.request_id == RequestRow.id
            )
        ):
            if isinstance(posted, dict) and posted.get("ts") and posted.get("channel"):
                owners[(str(posted["channel"]), str(posted["ts"]))] = key
    return owners


def _keys_of(args: dict[str, Any], owners: dict[tuple[str, str], str]) -> set[str]:
    """The requests a chat.postMessage or chat.update is about."""
    keys = {m.group(0) for m in KEY.finditer(json.dumps(args))}
    channel = str(args.get("channel", ""))
    for ts in (args.get("thread_ts"), args.get("ts")):
        if ts and (channel, str(ts)) in owners:
            keys.add(owners[(channel, str(ts))])
    return keys


def _sample(result: FieldResult, gate: str, message: float | None, start: float) -> None:
    if message is None:
        result.unmatched += 1
        return
    result.latencies.setdefault(gate, []).append(message - start)


def _event_waits(result: FieldResult, sessions: sessionmaker[Any]) -> None:
    """Events never applied, those applied later than LATE_AFTER_S, and the longest wait."""
    with sessions() as session:
        rows = session.execute(
            select(EventRow.received_at, EventRow.processed_at).where(
                EventRow.kind != "jira_webhook"
            )
        ).all()
    waits = [
        (row.processed_at - row.received_at).total_seconds()
        for row in rows
        if row.processed_at is not None
    ]
    unapplied = sum(1 for row in rows if row.processed_at is None)
    result.lost = unapplied
    result.late = sum(1 for w in waits if w > LATE_AFTER_S)
    result.max_event_wait_s = max(waits, default=0.0)
    result.event_waits = waits


def _parts(result: FieldResult, journal: Journal, sessions: sessionmaker[Any]) -> None:
    """The legs of a click, each from its own clock: who answers, who applies, who delivers."""
    result.parts["ack"] = [e.at - e.sent_at for e in journal.all() if e.acknowledged and e.sent_at]
    result.parts["event recorded -> applied"] = result.event_waits
    with sessions() as session:
        effects = session.execute(
            select(OutboxRow.created_at, OutboxRow.sent_at).where(OutboxRow.sent_at.is_not(None))
        ).all()
    result.parts["effect queued -> sent"] = [
        (row.sent_at - row.created_at).total_seconds() for row in effects
    ]


def part_rows(database: str, result: FieldResult) -> list[dict[str, object]]:
    """One row per leg of a click: where the time between click and message goes."""
    return [
        {"phase": f"legs {database}", "gate": leg, "n": len(samples), **_percentiles(samples)}
        for leg, samples in result.parts.items()
    ]


# --- rows ----------------------------------------------------------------------------------


def latency_rows(database: str, result: FieldResult) -> list[dict[str, object]]:
    """One row per gate, and one for all gates, of the walk under load."""
    rows: list[dict[str, object]] = []
    gates = {**result.latencies, "all clicks": _clicks(result)}
    for gate, samples in gates.items():
        rows.append(
            {
                "phase": f"latency {database}",
                "gate": gate,
                "n": len(samples),
                **_percentiles(samples),
                "lost": result.lost if gate == "all clicks" else None,
                "late": result.late if gate == "all clicks" else None,
                "load_1m": max(result.load, default=None) if gate == "all clicks" else None,
            }
        )
    return rows


def throughput_row(database: str, result: FieldResult) -> dict[str, object]:
    """Requests/min and gates/s of one walk without burners, with its click p95."""
    clicks = _percentiles(_clicks(result))
    return {
        "phase": f"throughput {database}",
        "gate": f"{result.done}/{result.requests} done",
        "n": result.gates,
        "wall_s": round(result.wall_s, 1),
        "req_per_min": round(60 * result.done / result.wall_s, 1),
        "gates_per_s": round(result.gates / result.wall_s, 2),
        "p95_s": clicks["p95_s"],
        "max_s": clicks["max_s"],
        "lost": result.lost,
        "late": result.late,
    }


def baseline_row(n: int) -> dict[str, object]:
    """The fixed plain-Prefect baseline's throughput on its own Prefect server."""
    if not BASELINE.exists():
        return {"phase": "baseline", "gate": f"no baseline at {BASELINE}"}
    with tempfile.TemporaryDirectory(prefix="govflow-baseline-") as tmp:
        out = Path(tmp) / "baseline.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
        argv = [sys.executable, str(BASELINE), "--throughput", str(n), "--poll", "1"]
        done = subprocess.run(
            [*argv, "--json", str(out)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=1200,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            return {"phase": "baseline", "gate": f"failed ({done.returncode}): {tail}"}
        figures = json.loads(out.read_text())
    DETAILS["baseline"] = figures
    throughput = figures.get("throughput", figures)
    return {
        "phase": "baseline",
        "gate": f"{throughput.get('completed')}/{n} done",
        "wall_s": round(float(throughput["wall_s"]), 1),
        "req_per_min": round(float(throughput["requests_per_min"]), 1),
        "gates_per_s": round(float(throughput["gates_per_s"]), 2),
    }


def _clicks(result: FieldResult) -> list[float]:
    return [s for gate, samples in result.latencies.items() if "filed" not in gate for s in samples]


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p95/p99 and max, in seconds."""
    ordered = sorted(samples)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)], 3)

    return {
        "p50_s": rank(50),
        "p95_s": rank(95),
        "p99_s": rank(99),
        "max_s": round(ordered[-1], 3) if ordered else None,
    }


# --- the pieces ----------------------------------------------------------------------------


@dataclass
class Served:
    """Where the serve's stand-ins listen."""

    jira_url: str
    slack_url: str


@contextmanager
def _serve(
    tmp: Path, database_url: str, n: int, runners: int = 1, prefect_database: str = "sqlite"
) -> Iterator[Served]:
    """`govflow serve` with its stand-ins, on a Prefect server of its own, until the block ends.

    The Prefect server is started here on a free port and given to serve in PREFECT_API_URL,
    as an operator does: serve takes 4200 when it looks free, and two serves starting at once
    on one machine raced for it. `runners` > 1 adds that many `govflow serve --role runner`
    beside it, on the same Prefect server and ledger (PostgreSQL: SQLite serves one runner).
    """
    _rules(tmp, n)
    with ExitStack() as stack:
        home = tmp / "prefect"
        prefect_env = {"PREFECT_API_LOG_RETRYABLE_ERRORS": "true"}
        if prefect_database == "postgresql":
            prefect_env["PREFECT_API_DATABASE_CONNECTION_URL"] = stack.enter_context(
                _prefect_database()
            )

        def launch(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
            with (tmp / "prefect.log").open("ab") as log:
                return subprocess.Popen(
                    argv,
                    env={**env, **prefect_env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

        prefect, api_url = start_own_server(home, launch, ui=False)
        stack.callback(_stop_server, prefect)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVFLOW_", "PREFECT_"))}
        env.update(
            {
                "PREFECT_API_URL": api_url,
                "PREFECT_HOME": str(home),
                "GOVFLOW_DATABASE_URL": database_url,
                "GOVFLOW_RULES": str(tmp / "rules.yaml"),
                "GOVFLOW_DATA_DIR": str(tmp / "data"),
                "GOVFLOW_RECEIVER_PORT": str(free_port()),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
            }
        )
        if workers := os.environ.get("GOVFLOW_BENCH_FIELD_WORKERS"):
            env["GOVFLOW_ADVANCE_WORKERS"] = workers
        log = tmp / "serve.log"
        process = stack.enter_context(_process(["serve"], env, log))
        jira = _printed(log, re.compile(r"Jira stand-in at (http://\S+)"), process)
        slack = _printed(log, re.compile(r"Slack stand-in at (http://\S+?)/api/"), process)
        port = env["GOVFLOW_RECEIVER_PORT"]
        _wait_http(f"http://127.0.0.1:{port}/healthz", process)
        # The runner is ready (ledger and Prefect reachable) before anything is filed.
        ready = re.compile(r"serving deployments; health at (http://\S+/readyz)")
        _wait_http(_printed(log, ready, process), process)
        extra = {
            **env,
            "GOVFLOW_DATA_DIR": str(tmp / "data-2"),
            "GOVFLOW_JIRA_URL": jira,
            "GOVFLOW_JIRA_USER": SANDBOX_JIRA_USER,
            "GOVFLOW_JIRA_TOKEN": SANDBOX_JIRA_TOKEN,
            "GOVFLOW_SLACK_API_URL": f"{slack}/api/",
            "GOVFLOW_SLACK_BOT_TOKEN": EXAMPLE_WORKSPACE.bot_token,
            "GOVFLOW_SLACK_SIGNING_SECRET": SANDBOX_SIGNING_SECRET,
        }
        for number in range(2, runners + 1):
            runner_log = tmp / f"runner-{number}.log"
            role = ["serve", "--role", "runner"]
            other = stack.enter_context(_process(role, extra, runner_log))
            _wait_http(_printed(runner_log, ready, other), other)
        yield Served(jira_url=jira, slack_url=slack)


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m govflow ARGS` in its own session, stopped by Ctrl-C as a person would."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "govflow", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        DETAILS.setdefault("serve_logs", []).append(str(log))


def _rules(tmp: Path, n: int) -> None:
    """The packaged rules beside a folder of one SOP per request (as the soak's)."""
    shutil.copy(ROOT / "config" / "rules.yaml", tmp / "rules.yaml")
    sops = tmp / "sops"
    sops.mkdir()
    base = BASE_SOP.read_text()
    for number in range(1, n + 1):
        sop_id = sop_of(number)
        text = base.replace("id: SOP-LST-002", f"id: {sop_id}").replace(
            "# SOP-LST-002 ", f"# {sop_id} "
        )
        (sops / f"{sop_id}.md").write_text(text)


def _file(jira: RemoteJiraSandbox, n: int) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """File N complete tickets at once (one thread each); when each was filed, and its SOP."""
    filed: dict[str, float] = {}
    keys: list[tuple[str, str]] = [("", "")] * n

    def file(number: int) -> None:
        template = TEMPLATES[(number - 1) % len(TEMPLATES)]
        fields = {**template.fields, "Summary": f"{template.fields['Summary']} #{number}"}
        fields[_affected_sop_field(fields)] = f"{sop_of(number)} field copy"
        at = time.time()
        key = jira.file_issue(reporter=template.reporter, fields=fields)
        filed[key] = at
        keys[number - 1] = (key, sop_of(number))

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(file, range(1, n + 1)))
    return filed, keys


@contextmanager
def _ledger(database: str, tmp: Path) -> Iterator[str]:
    """A SQLite file, or a fresh schema of the local PostgreSQL (dropped afterwards)."""
    if database == "sqlite":
        yield f"sqlite:///{tmp / 'ledger.db'}"
        return
    schema = f"field_{os.getpid()}_{int(time.time())}"
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def _prefect_database() -> Iterator[str]:
    """A fresh database of the local PostgreSQL for the Prefect server (dropped afterwards)."""
    name = f"prefect_field_{os.getpid()}_{int(time.time())}"
    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_URL)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _burner() -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-c", BURNER])
    try:
        yield
    finally:
        process.kill()
        process.wait()


class Load:
    """The one-minute load average, sampled every 5 s while a walk runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()

    @contextmanager
    def sampling(self) -> Iterator[None]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(5.0):
            self.samples.append(round(os.getloadavg()[0], 2))


def _printed(log: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes]) -> str:
    """The first match of `pattern` in the serve's output, waiting for it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"govflow serve exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"govflow serve never printed {pattern.pattern}")


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"govflow serve exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} never answered")
