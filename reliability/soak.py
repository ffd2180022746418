"""The fault soak and crash test: N requests through the whole lifecycle under faults and kills.

    python -m reliability soak [--requests 200] [--fault-rate 0.10] [--kills 6] [--seed N]
                               [--people 8] [--database-url postgresql+psycopg://...]
                               [--receivers 2] [--runners 2] [--json out.json]

What runs, as under `govflow serve`: a fresh Prefect server, `python -m flows.runner` (the
deployments and the dispatcher that runs `advance`) and `python -m govflow.receiver`, each a
child process in its own process group; the Jira and Slack stand-ins in this process (they are
the vendors: faulted, never killed); a migrated ledger (SQLite file, or a fresh schema of the
given PostgreSQL database). Every secret is a fresh random value, so finding one is meaningful.

1. N tickets are filed in the Jira stand-in, each naming its own SOP (one per request, so the
   soak tests delivery and crashes, not merge conflicts between parallel drafts).
2. Both stand-ins fail the given fraction of govflow's calls at random: 429 bursts with
   Retry-After, 500 and 503, connection resets, answers slower than the clients' timeout
   (`GOVFLOW_HTTP_TIMEOUT_SECONDS`, 3 s here; the slow answers take 4 s).
3. Scripted people (`reliability.people`, several threads) take each request through claim,
   assessment, every sign-off team's quorum and the SOP owner's publish, until DONE.
4. Meanwhile the runner, the receiver and the Prefect server are killed with SIGKILL at random
   points (each at least once when --kills >= 3) and restarted after a short pause.
   With `--receivers 2 --runners 2` (PostgreSQL only) there are two of each, killed one at a
   time, and a round-robin balancer (`reliability.balancer`) spreads Slack's and Jira's
   deliveries over the receivers as a load balancer would.
5. Faults stop, the pipeline drains, and the checks of `reliability.checks` run; the exit
   status is non-zero when any fails.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from config.loader import load_rules
from config.settings import load_settings
from govflow.prefect_server import free_port
from govflow.startup import prepare_ledger
from integrations.db.engine import make_engine, make_reader_engine, make_sessionmaker
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow
from integrations.db.outbox import PENDING
from integrations.delivery import EffectKind, effect_ref
from reliability import checks
from reliability.balancer import RoundRobin
from reliability.checks import Check, LedgerEvent
from reliability.people import Journal, Office, Stuck, Walk
from reliability.pieces import Piece, module_piece, prefect_piece
from sandbox.faults import Fault, FaultKind, RandomFaults
from sandbox.jira.seed import EXAMPLE_ISSUES
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE

ROOT = Path(__file__).resolve().parents[1]
BASE_SOP = ROOT / "config" / "sops" / "SOP-LST-002-counterfeit-escalation.md"
# Complete example tickets on four different routes (listing, onboarding exception in ID,
# content QA dispute, onboarding review standard): different teams, quorums and owners.
TEMPLATES = tuple(EXAMPLE_ISSUES[i] for i in (0, 1, 3, 5))
HTTP_TIMEOUT_S = 3
SLOW_ANSWER_S = 4.0
DRAIN_S = 300.0
PIECE_NAMES = ("runner", "receiver", "prefect")


def piece_names(runners: int = 1, receivers: int = 1) -> tuple[str, ...]:
    """The soak's pieces: `runner` and `receiver` when one of each, else numbered."""

    def numbered(kind: str, count: int) -> list[str]:
        return [kind] if count == 1 else [f"{kind}-{i}" for i in range(1, count + 1)]

    return (*numbered("runner", runners), *numbered("receiver", receivers), "prefect")


@dataclass(frozen=True)
class SoakConfig:
    """The size and shape of one soak."""

    requests: int = 200
    fault_rate: float = 0.10
    kills: int = 6
    seed: int = 1
    people: int = 8
    database_url: str | None = None
    workdir: Path | None = None
    keep: bool = False
    # Several of each share the ledger (PostgreSQL only) and the Prefect server; a
    # round-robin balancer spreads Slack's and Jira's deliveries over the receivers.
    receivers: int = 1
    runners: int = 1

    @property
    def pieces(self) -> tuple[str, ...]:
        """Names of the pieces this soak starts and kills."""
        return piece_names(self.runners, self.receivers)


@dataclass
class Kill:
    """One kill -9: which piece, when (seconds into the soak), after how many acknowledged
    interactions, and how long it stayed down."""

    piece: str
    at_s: float
    after_acks: int
    down_s: float


@dataclass
class SoakResult:
    """Figures and checks of one soak."""

    config: SoakConfig
    elapsed_s: float = 0.0
    checks: list[Check] = field(default_factory=list)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    unexpected_exits: dict[str, int] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def table(self) -> str:
        """The figures and checks as a plain-text table."""
        rows: list[tuple[str, str, str]] = [
            ("requests", str(self.config.requests), ""),
            ("fault rate", f"{self.config.fault_rate:.0%}", ""),
            ("elapsed", f"{self.elapsed_s:.0f} s", ""),
        ]
        rows += [(name, str(value), "") for name, value in self.figures.items()]
        for service, counts in self.faults.items():
            total = sum(counts.values())
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
            rows.append((f"faults injected, {service}", f"{total} ({kinds})", ""))
        names = self.config.pieces
        by_piece = {name: sum(1 for k in self.kills if k.piece == name) for name in names}
        rows.append(("kills (SIGKILL)", ", ".join(f"{p} {n}" for p, n in by_piece.items()), ""))
        if self.unexpected_exits:
            rows.append(("pieces that exited by themselves", str(self.unexpected_exits), ""))
        rows += [(c.name, str(c.value), "PASS" if c.ok else "FAIL") for c in self.checks]
        width = max(len(r[0]) for r in rows)
        lines = [f"{name:<{width}}  {value}  {verdict}".rstrip() for name, value, verdict in rows]
        lines += [
            f"  kill -9 {k.piece} at {k.at_s:.0f} s (after {k.after_acks} acks), down {k.down_s} s"
            for k in self.kills
        ]
        for check in self.checks:
            lines += [f"  {check.name}: {line}" for line in check.detail[:20]]
        lines += [f"  stuck: {s}" for s in self.stuck[:10]]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Everything, as JSON-able data."""
        return {
            "config": {k: str(v) for k, v in self.config.__dict__.items()},
            "elapsed_s": self.elapsed_s,
            "ok": self.ok,
            "figures": self.figures,
            "faults": self.faults,
            "kills": [k.__dict__ for k in self.kills],
            "unexpected_exits": self.unexpected_exits,
            "checks": [c.__dict__ for c in self.checks],
            "stuck": self.stuck,
        }


@dataclass(frozen=True)
class Secrets:
    """Fresh, distinctive values for every secret the pipeline is configured with."""

    signing_secret: str = field(default_factory=lambda: f"soaksign{secrets.token_hex(16)}")
    bot_token: str = field(default_factory=lambda: f"xoxb-soak-{secrets.token_hex(16)}")
    jira_token: str = field(default_factory=lambda: f"soakjira{secrets.token_hex(16)}")
    webhook_secret: str = field(default_factory=lambda: f"soakhook{secrets.token_hex(16)}")
    database_password: str = field(default_factory=lambda: f"soakdb{secrets.token_hex(12)}")


def run(config: SoakConfig, say: Any = print) -> SoakResult:
    """One whole soak; `say` reports progress."""
    if config.runners > 1 and config.database_url is None:
        # On SQLite one runner serves a ledger (docs/dispatch.md).
        raise ValueError("several runners need a PostgreSQL ledger: give --database-url")
    return Soak(config, say).run()


class Soak:
    """The stand-ins, the pieces, the people and the chaos of one soak."""

    def __init__(self, config: SoakConfig, say: Any) -> None:
        self.config = config
        self.say = say
        self.rng = random.Random(config.seed)
        self.secrets = Secrets()
        self.result = SoakResult(config)
        self.pieces: dict[str, Piece] = {}
        self.balancer: RoundRobin | None = None
        self.balancer_server: ThreadedServer | None = None
        self.journal = Journal()
        self.pieces_lock = threading.Lock()
        self.started = time.monotonic()

    def run(self) -> SoakResult:
        """Set up, walk every request under faults and kills, drain, check, tear down."""
        with ExitStack() as stack:
            self.tmp = Path(
                tempfile.mkdtemp(prefix="govflow-soak-", dir=self.config.workdir)
            ).resolve()
            if not self.config.keep:
                stack.callback(shutil.rmtree, self.tmp, True)
            self.say(f"soak: working in {self.tmp}")
            self.jira = stack.enter_context(JiraSandbox(seed=True))
            self.slack = stack.enter_context(SlackSandbox(seed=True))
            self._configure_secrets()
            self.database_url = stack.enter_context(self._ledger())
            env = self._environment()
            settings = load_settings({k: v for k, v in env.items() if k.startswith("GOVFLOW_")})
            self.rules = load_rules(settings.rules)
            engine = make_engine(self.database_url)
            stack.callback(engine.dispose)
            prepare_ledger(settings, self.rules, engine, datetime.now(UTC))
            readers = make_reader_engine(self.database_url)
            stack.callback(readers.dispose)
            self.sessions = make_sessionmaker(readers)
            stack.callback(self._stop_pieces)
            self._start_pieces(env)
            keys = self._file_tickets()
            self._inject_faults(self.config.fault_rate)
            self.started = time.monotonic()
            self._walk(keys)
            self._inject_faults(0.0)
            self._drain(keys)
            self.result.elapsed_s = time.monotonic() - self.started
            self._check(keys)
        return self.result

    # --- set-up ---------------------------------------------------------------------------

    def _configure_secrets(self) -> None:
        with self.jira.state.lock:
            self.jira.state.api_user().api_token = self.secrets.jira_token
        self.slack.add_token(self.secrets.bot_token, EXAMPLE_WORKSPACE.bot.id)

    @contextmanager
    def _ledger(self) -> Iterator[str]:
        """A SQLite file, or a fresh schema in the given PostgreSQL (with a password set)."""
        if self.config.database_url is None:
            yield f"sqlite:///{self.tmp / 'ledger.db'}"
            return
        url = make_url(self.config.database_url)
        schema = f"soak_{secrets.token_hex(6)}"
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        # Trust auth ignores the password, but govflow is configured with one to scan for.
        soaked = url.set(password=self.secrets.database_password).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        try:
            yield soaked.render_as_string(hide_password=False)
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def _rules_file(self) -> Path:
        """The packaged rules beside a folder of one SOP per request."""
        rules = self.tmp / "rules.yaml"
        shutil.copy(ROOT / "config" / "rules.yaml", rules)
        sops = self.tmp / "sops"
        sops.mkdir()
        base = BASE_SOP.read_text()
        for number in range(1, self.config.requests + 1):
            sop_id = sop_of(number)
            text = base.replace("id: SOP-LST-002", f"id: {sop_id}").replace(
                "# SOP-LST-002 ", f"# {sop_id} "
            )
            (sops / f"{sop_id}.md").write_text(text)
        return rules

    def _environment(self) -> dict[str, str]:
        user, _ = self.jira.credentials
        self.prefect_port = free_port()
        self.receiver_ports = [free_port() for _ in range(self.config.receivers)]
        self.receiver_port = self.receiver_ports[0]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVFLOW_", "PREFECT_"))}
        env.update(
            {
                "GOVFLOW_JIRA_URL": self.jira.url,
                "GOVFLOW_JIRA_USER": user,
                "GOVFLOW_JIRA_TOKEN": self.secrets.jira_token,
                "GOVFLOW_JIRA_WEBHOOK_SECRET": self.secrets.webhook_secret,
                "GOVFLOW_SLACK_BOT_TOKEN": self.secrets.bot_token,
                "GOVFLOW_SLACK_SIGNING_SECRET": self.secrets.signing_secret,
                "GOVFLOW_SLACK_API_URL": self.slack.api_url,
                "GOVFLOW_DATABASE_URL": self.database_url,
                "GOVFLOW_RULES": str(self._rules_file()),
                "GOVFLOW_DATA_DIR": str(self.tmp / "data"),
                "GOVFLOW_RECEIVER_PORT": str(self.receiver_port),
                "GOVFLOW_INTAKE_INTERVAL_SECONDS": "10",
                "GOVFLOW_WATCHDOG_INTERVAL_SECONDS": "10",
                "GOVFLOW_HTTP_TIMEOUT_SECONDS": str(HTTP_TIMEOUT_S),
                "PREFECT_API_URL": f"http://127.0.0.1:{self.prefect_port}/api",
                "PREFECT_HOME": str(self.tmp / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_LOGGING_LEVEL": "INFO",
                "PREFECT_RUNNER_POLL_FREQUENCY": "2",
                # A hung child dumps every thread's stack on SIGABRT, into its log.
                "PYTHONFAULTHANDLER": "1",
            }
        )
        return env

    def _start_pieces(self, env: dict[str, str]) -> None:
        logs = self.tmp / "logs"
        logs.mkdir()
        names = self.config.pieces
        runners = [n for n in names if n.startswith("runner")]
        receivers = [n for n in names if n.startswith("receiver")]
        urls = [f"http://127.0.0.1:{port}" for port in self.receiver_ports]
        self.pieces = {
            "prefect": prefect_piece(
                self.tmp / "prefect", self.prefect_port, logs / "prefect-server.log"
            )
        }
        for name in runners:
            # Each runner on a machine of its own: nothing it needs may live in another's
            # PREFECT_HOME (the Prefect server's stays where the server keeps its state).
            own = env if len(runners) == 1 else {**env, "PREFECT_HOME": str(self.tmp / name)}
            self.pieces[name] = module_piece(name, ["flows.runner"], own, logs / f"{name}.log")
        for name, port, url in zip(receivers, self.receiver_ports, urls, strict=True):
            self.pieces[name] = module_piece(
                name,
                ["govflow.receiver", "--port", str(port)],
                env,
                logs / f"{name}.log",
                ready_url=f"{url}/healthz",
            )
        for name in ("prefect", *runners, *receivers):
            self.say(f"soak: starting {name}")
            self.pieces[name].start()
        front = urls[0]
        if len(urls) > 1:
            self.balancer = RoundRobin(urls)
            self.balancer_server = ThreadedServer(self.balancer.app()).start()
            front = self.balancer_server.url
            self.say(f"soak: load balancer at {front} over {len(urls)} receivers")
        self.slack.configure_receiver(f"{front}/slack/events", self.secrets.signing_secret)
        self.jira.configure_webhook(f"{front}/jira/webhook", self.secrets.webhook_secret)

    def _stop_pieces(self) -> None:
        if self.balancer_server is not None:
            self.balancer_server.stop()
        if self.balancer is not None:
            self.balancer.close()
        names = self.config.pieces
        first = [n for n in names if n.startswith("receiver")]
        for name in (*first, *(n for n in names if n.startswith("runner")), "prefect"):
            if name in self.pieces:
                self.pieces[name].stop()

    def _file_tickets(self) -> list[str]:
        keys = []
        for number in range(1, self.config.requests + 1):
            template = TEMPLATES[(number - 1) % len(TEMPLATES)]
            fields = {**template.fields, "Summary": f"{template.fields['Summary']} #{number}"}
            fields[_affected_sop_field(fields)] = f"{sop_of(number)} soak copy"
            keys.append(self.jira.file_issue(reporter=template.reporter, fields=fields))
        self.say(f"soak: filed {len(keys)} tickets")
        return keys

    def _inject_faults(self, rate: float) -> None:
        kinds = (
            Fault(FaultKind.RATE_LIMIT, retry_after=1, burst=3),
            Fault(FaultKind.SERVER_ERROR, status=500),
            Fault(FaultKind.SERVER_ERROR, status=503, retry_after=1),
            Fault(FaultKind.RESET),
            Fault(FaultKind.LATENCY, delay=SLOW_ANSWER_S),
        )
        for plan, salt in ((self.jira.faults, 1), (self.slack.faults, 2)):
            plan.set_random(
                RandomFaults(rate, kinds, random.Random(self.config.seed * 10 + salt))
                if rate
                else None
            )

    # --- the run --------------------------------------------------------------------------

    def _walk(self, keys: list[str]) -> None:
        office = Office(self.slack, self.sessions, self.rules, self.journal)
        chaos = threading.Thread(
            target=self._chaos, args=(office, len(keys)), name="chaos", daemon=True
        )
        chaos.start()
        done = 0
        people = ThreadPoolExecutor(self.config.people, thread_name_prefix="person")
        try:
            walks = {
                people.submit(Walk(office, key, sop_of(n)).run): key
                for n, key in enumerate(keys, start=1)
            }
            for future in as_completed(walks):
                try:
                    future.result()
                except Stuck as exc:
                    self.result.stuck.append(str(exc))
                    self.say(f"soak: STUCK {exc}")
                except Exception as exc:  # noqa: BLE001 - reported: the request counts as stuck
                    self.result.stuck.append(f"{walks[future]}: {type(exc).__name__}: {exc}")
                    self.say(f"soak: WALK FAILED {walks[future]}: {exc!r}")
                done += 1
                if done % 10 == 0 or done == len(keys):
                    self.say(f"soak: {done}/{len(keys)} walked, {self._elapsed():.0f} s")
        finally:
            # Interrupted or not, people stop waiting and the chaos stops killing.
            office.stop.set()
            people.shutdown(wait=True, cancel_futures=True)
            chaos.join()

    def _chaos(self, office: Office, requests: int) -> None:
        """Kill pieces at random points of the run, keep them restarted, note self-exits."""
        plan = self._kill_plan(requests)
        while not office.stop.is_set():
            acks = self.journal.acknowledged()
            if plan and acks >= plan[0][1]:
                name, _ = plan.pop(0)
                time.sleep(self.rng.uniform(0.0, 1.5))  # land anywhere in the work under way
                self._kill(name, acks)
            self._restart_exited()
            office.stop.wait(0.5)

    def _kill_plan(self, requests: int) -> list[tuple[str, int]]:
        """Which piece to kill after how many acknowledged interactions, in order."""
        order: list[str] = []
        while len(order) < self.config.kills:
            batch = list(self.config.pieces)
            self.rng.shuffle(batch)
            order += batch
        # About seven acknowledged interactions per request; kill within the first 85%.
        expected = requests * 7
        points = sorted(
            int(self.rng.uniform(0.05, 0.85) * expected) for _ in range(self.config.kills)
        )
        return list(zip(order[: self.config.kills], points, strict=True))

    def _kill(self, name: str, acks: int) -> None:
        piece = self.pieces[name]
        at = self._elapsed()
        with self.pieces_lock:
            piece.kill()
            down = self.rng.uniform(0.5, 3.0)
            self.say(f"soak: kill -9 {name} at {at:.0f} s ({acks} acks); back in {down:.1f} s")
            time.sleep(down)
            piece.start()
        self.result.kills.append(Kill(name, round(at, 1), acks, round(down, 1)))

    def _restart_exited(self) -> None:
        with self.pieces_lock:
            for name, piece in self.pieces.items():
                if not piece.alive():
                    code = piece.process.returncode if piece.process else None
                    self.say(f"soak: {name} exited by itself ({code}); restarting it")
                    self.result.unexpected_exits[name] = (
                        self.result.unexpected_exits.get(name, 0) + 1
                    )
                    piece.start()

    def _drain(self, keys: list[str]) -> None:
        """After the walks: wait until no event waits and no effect is pending."""
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            self._restart_exited()
            with self.sessions.begin() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(EventRow)
                    .where(EventRow.processed_at.is_(None))
                )
                pending = session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING)
                )
            if not waiting and not pending:
                return
            time.sleep(1.0)
        self.say("soak: the pipeline did not drain in time")

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    # --- checks ---------------------------------------------------------------------------

    def _check(self, keys: list[str]) -> None:
        result = self.result
        result.faults = {"jira": self.jira.faults.counts(), "slack": self.slack.faults.counts()}
        result.figures["people (threads)"] = self.config.people
        if self.balancer is not None:
            answered = ", ".join(str(n) for n in self.balancer.answered)
            result.figures["deliveries per receiver (balancer)"] = answered
            result.figures["deliveries retried on another receiver"] = self.balancer.skipped
        result.figures["interactions (acknowledged/all)"] = (
            f"{self.journal.acknowledged()}/{len(self.journal.all())}"
        )
        with self.sessions.begin() as session:
            stages = dict(
                session.execute(
                    select(RequestRow.jira_key, RequestRow.stage).where(
                        RequestRow.jira_key.in_(keys)
                    )
                ).all()
            )
            effects = session.execute(
                select(OutboxRow, RequestRow.jira_key)
                .join(RequestRow, RequestRow.id == OutboxRow.request_id)
                .order_by(OutboxRow.id)
            ).all()
            events = [
                LedgerEvent(key, e.dedupe_key, e.actor or "", e.kind, e.processed_at is not None)
                for e, key in session.execute(
                    select(EventRow, RequestRow.jira_key).join(
                        RequestRow, RequestRow.id == EventRow.request_id
                    )
                ).all()
            ]
            refused = dict(
                session.execute(
                    select(RequestRow.jira_key, func.count())
                    .join(AuditRow, AuditRow.request_id == RequestRow.id)
                    .where(AuditRow.action == "action_refused")
                    .group_by(RequestRow.jira_key)
                ).all()
            )
            audit = [
                (a.actor, a.action, a.reason, a.detail) for a in session.scalars(select(AuditRow))
            ]
            result.figures["outbox effects sent"] = sum(
                1 for row, _ in effects if row.status == "sent"
            )
            result.figures["outbox effects dead"] = sum(
                1 for row, _ in effects if row.status == "dead"
            )
            replies: dict[str, list[str]] = {}
            for row, key in effects:
                if row.kind == EffectKind.SLACK_REPLY and row.status == "sent":
                    replies.setdefault(key, []).append(effect_ref(row.idempotency_key))
            # Every request in the ledger, the seeded examples govflow took in too.
            threads = {
                r.jira_key: (r.slack_channel, r.slack_thread_ts)
                for r in session.scalars(select(RequestRow))
            }
        done = sum(1 for key in keys if stages.get(key) == "DONE")
        result.checks.append(
            Check(
                "requests completed (DONE)",
                f"{done}/{len(keys)}",
                done == len(keys),
                [f"{k}: {stages.get(k)}" for k in keys if stages.get(k) != "DONE"],
            )
        )
        comments = self.jira.comments()
        result.checks.append(
            checks.duplicated_jira_comments((c.issue_key, c.body) for c in comments)
        )
        messages = [m for ch in self.slack.state.channels() for m in self.slack.messages(ch.id)]
        result.figures["Jira comments"] = len(comments)
        result.figures["Slack messages"] = len(messages)
        result.checks.append(checks.duplicated_slack_messages(m.metadata for m in messages))
        result.checks.append(checks.lost_decisions(self.journal.all(), events, refused))
        seen: dict[str, list[str]] = {}
        for key, (channel, ts) in threads.items():
            if channel and ts:
                seen[key] = [
                    ref
                    for m in self.slack.thread(channel, ts)
                    if m.ts != ts and (ref := checks.message_ref(m.metadata))
                ]
        result.checks.append(checks.reply_order(replies, seen))
        result.checks.append(self._scan_secrets(comments, messages, audit, keys))

    def _scan_secrets(
        self, comments: list[Any], messages: list[Any], audit: list[Any], keys: list[str]
    ) -> Check:
        user, _ = self.jira.credentials
        values = {
            **checks.secret_forms("Slack signing secret", self.secrets.signing_secret),
            **checks.secret_forms("Slack bot token", self.secrets.bot_token),
            **checks.secret_forms("Jira API token", self.secrets.jira_token, user),
            **checks.secret_forms("Jira webhook secret", self.secrets.webhook_secret),
        }
        if self.config.database_url is not None:
            values.update(checks.secret_forms("database password", self.secrets.database_password))
        sources: dict[str, str] = {}
        for log in sorted((self.tmp / "logs").glob("*.log")):
            sources[f"log {log.name}"] = log.read_text(errors="replace")
        for log in sorted((self.tmp / "data").rglob("*.log")):
            sources[f"log {log.name}"] = log.read_text(errors="replace")
        sources["Jira comments"] = checks.as_text([c.body for c in comments])
        sources["Jira issue fields"] = checks.as_text([self.jira.snapshot(k) for k in keys])
        sources["Slack messages"] = checks.as_text([m.to_json() for m in messages])
        sources["Slack ephemerals"] = checks.as_text([e.to_json() for e in self.slack.ephemerals()])
        sources["Slack views"] = checks.as_text([v.to_json() for v in self.slack.views()])
        sources["ledger audit"] = checks.as_text(audit)
        sources.update(self._prefect_sources())
        return checks.scan_secrets(values, sources)

    def _prefect_sources(self) -> dict[str, str]:
        """Flow-run logs, artifacts and flow runs, read through the Prefect API."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        logs: list[Any] = []
        artifacts: list[Any] = []
        runs: list[Any] = []
        # Scoped, never through os.environ: the soak runs inside other programs (the test
        # suite), whose later Prefect calls must still reach their own server.
        api_url = f"http://127.0.0.1:{self.prefect_port}/api"
        with (
            temporary_settings(updates={PREFECT_API_URL: api_url}),
            get_client(sync_client=True) as client,
        ):
            for reader, sink in (
                (client.read_logs, logs),
                (client.read_artifacts, artifacts),
                (client.read_flow_runs, runs),
            ):
                offset = 0
                while True:
                    page = reader(limit=200, offset=offset)
                    sink.extend(item.model_dump(mode="json") for item in page)
                    if len(page) < 200:
                        break
                    offset += 200
        self.result.figures["Prefect logs / artifacts / flow runs scanned"] = (
            f"{len(logs)} / {len(artifacts)} / {len(runs)}"
        )
        return {
            "Prefect flow-run logs": checks.as_text(logs),
            "Prefect artifacts": checks.as_text(artifacts),
            "Prefect flow runs": checks.as_text(runs),
        }


def sop_of(number: int) -> str:
    """The SOP that request number `number` changes."""
    return f"SOP-SOAK-{number:03d}"


def _affected_sop_field(fields: dict[str, Any]) -> str:
    """The display name of the ticket's affected-SOP field."""
    return next(name for name in fields if re.search(r"affected sop", name, re.IGNORECASE))


def write_json(result: SoakResult, path: Path) -> None:
    """Save a result as JSON."""
    path.write_text(json.dumps(result.to_json(), indent=2, default=str))
