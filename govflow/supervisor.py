"""`govflow serve`: start every piece the pipeline needs on this machine, stop them together.

Each piece is a child process in its own process group: a local Prefect server (only when
PREFECT_API_URL is unset), the Jira and Slack stand-ins (only when no credentials are set), the
runner that serves the flows, and the receiver. Ctrl-C, SIGTERM or SIGHUP stops them all.

Stopping goes in tiers: the receiver and the runner first (they still talk to the Prefect
server and the stand-ins while they finish), then the Prefect server and the stand-ins. Each
tier gets SIGTERM and a grace period, then SIGKILL for what is left, and every group is
SIGKILLed once its leader is gone (a runner's flow-run processes may outlive it). A second
stop signal hurries the stop (SIGKILL for what is left) instead of aborting it: the signal
handler only counts, it never raises. Every child runs under `govflow.guard`, which takes its
group down when this supervisor ends in any way, SIGKILL included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings, redact_url
from domain.rules import Rules
from govflow.prefect_server import free_port, port_free, start_own_server
from govflow.startup import prepare_ledger
from govflow.waiting import wait_for_http
from integrations.db.engine import make_engine
from integrations.prefect_ui.urls import board_page
from sandbox.console.launch import CONSOLE_PORT, RunningSandbox, console_argv, write_serve_file
from sandbox.jira.control import RemoteJiraSandbox
from sandbox.slack.sandbox import RemoteSlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE

SANDBOX_JIRA_USER = "govflow-bot@example.com"
SANDBOX_JIRA_TOKEN = "sandbox-jira-token"
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"
PIECES = ("prefect", "sandbox", "runner", "receiver")
# `govflow serve --role`: what each role starts. Only `all` starts a Prefect server and the
# stand-ins; the others join an installation that has them (PREFECT_API_URL, credentials).
ROLES = {
    "all": frozenset(PIECES),
    "receiver": frozenset({"receiver"}),
    "runner": frozenset({"runner"}),
}
# Stopped first: the pieces that use the others while they finish their work.
FIRST_TO_STOP = frozenset({"receiver", "runner"})
GRACE_SECONDS = 10.0
# Prefect's usual port, used when free: the UI where a Prefect user looks first.
PREFECT_PORT = 4200


class StopRequested(Exception):
    """A stop signal arrived while `govflow serve` was still starting its children."""


@dataclass
class Child:
    """A started child process and what to tell the operator about it."""

    name: str
    process: subprocess.Popen[bytes]
    where: str


@dataclass
class Supervisor:
    """Starts, watches and stops the children of one `govflow serve`."""

    settings: Settings
    rules: Rules
    only: frozenset[str] = frozenset(PIECES)
    say: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    prefect_home: Path | None = None  # default: <data dir>/prefect
    # Counted by the signal handler; only plain attribute writes are safe there.
    stop_requests: int = 0
    _lifeline: tuple[int, int] | None = None

    def request_stop(self, _signum: int = 0, _frame: object = None) -> None:
        """Signal handler: the first call stops `serve`, a later one hurries the stop."""
        self.stop_requests += 1

    def _tell(self, line: str) -> None:
        """`say`, except that a closed stdout does not interrupt a stop."""
        with contextlib.suppress(OSError):
            self.say(line)

    def _check_stop(self) -> None:
        if self.stop_requests:
            raise StopRequested

    @property
    def data_dir(self) -> Path:
        """Where logs and local state of the children live."""
        return self.settings.data_dir.resolve()

    def start(self) -> None:
        """Start every piece this serve is responsible for, in dependency order."""
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        if "sandbox" in self.only:
            self._start_sandboxes()
        self._check_stop()
        self._migrate()
        self._check_stop()
        if "prefect" in self.only and not self.env.get("PREFECT_API_URL"):
            self._start_prefect()
        self._check_stop()
        if self.env.get("PREFECT_API_URL"):
            # The board's content page: one artifact updated in place, so a stable URL.
            board = board_page(self.env["PREFECT_API_URL"], self.settings.installation)
            self.say(f"board       {board}  <- open requests, most urgent first")
        if "runner" in self.only:
            self._start_runner()
        if "receiver" in self.only:
            self._start_receiver()
        sandboxes = self.settings.uses_sandbox_jira and self.settings.uses_sandbox_slack
        if "sandbox" in self.only and sandboxes:
            self._start_console()

    def _start_console(self) -> None:
        """The sandbox console (sandbox/console): Jira and Slack stand-ins in a browser."""
        port = CONSOLE_PORT if port_free(CONSOLE_PORT) else free_port()
        url = f"http://127.0.0.1:{port}"
        self._spawn("console", console_argv(port), f"sandbox console at {url}  <- open this")
        wait_for_http(f"{url}/healthz", self.children[-1].process, 30.0, what="the console")
        prefect = self.env.get("PREFECT_API_URL", "").removesuffix("/api") or None
        ledger = self.env.get("GOVFLOW_DATABASE_URL", self.settings.database_url)
        write_serve_file(self.data_dir, RunningSandbox(os.getpid(), ledger, url, prefect))
        self._check_stop()

    def _start_runner(self) -> None:
        """The runner, with its health and metrics server on a port of its own."""
        port = self.settings.runner_health_port or free_port()
        self.env["GOVFLOW_RUNNER_HEALTH_PORT"] = str(port)
        host = self.settings.runner_health_host
        where = f"serving deployments; health at http://{host}:{port}/readyz and /metrics"
        self._spawn("runner", [sys.executable, "-m", "flows.runner"], where)
        # Up once it answers: it has registered its deployments and its zombie automation.
        self._wait_http(f"http://127.0.0.1:{port}/healthz", self.children[-1].process, 120.0)

    def _start_receiver(self) -> None:
        """The receiver on the receiver port: Slack over HTTP, or Socket Mode with an app token.

        When this serve started the stand-ins, they are pointed at it: the Jira stand-in posts
        signed webhooks to it, the Slack stand-in delivers clicks to it (or accepts its app
        token for Socket Mode).
        """
        sandbox_jira = "sandbox" in self.only and self.settings.uses_sandbox_jira
        sandbox_slack = "sandbox" in self.only and self.settings.uses_sandbox_slack
        if sandbox_jira:
            self.env.setdefault("GOVFLOW_JIRA_WEBHOOK_SECRET", SANDBOX_WEBHOOK_SECRET)
        port = self.settings.receiver_port
        url = f"http://127.0.0.1:{port}"
        app_token = self.env.get("GOVFLOW_SLACK_APP_TOKEN")
        slack_sandbox = self.env.get("GOVFLOW_SLACK_API_URL", "").removesuffix("/api/")
        if app_token and sandbox_slack:
            with _remote_slack(slack_sandbox) as slack:
                slack.add_app_token(app_token)
        where = (
            f"Slack over Socket Mode; Jira webhooks at {url}/jira/webhook"
            if app_token
            else f"{url}/slack/events and {url}/jira/webhook"
        ) + f"; health at {url}/readyz and /metrics"
        host = ["--host", self.settings.receiver_host]
        argv = [sys.executable, "-m", "govflow.receiver", *host, "--port", str(port)]
        self._spawn("receiver", argv, where)
        self._wait_http(f"{url}/healthz", self.children[-1].process)
        if sandbox_jira:
            with _remote_jira(self.env["GOVFLOW_JIRA_URL"]) as jira:
                jira.configure_webhook(
                    f"{url}/jira/webhook", self.env["GOVFLOW_JIRA_WEBHOOK_SECRET"]
                )
        if sandbox_slack and not app_token:
            with _remote_slack(slack_sandbox) as slack:
                slack.configure_receiver(
                    f"{url}/slack/events", self.env["GOVFLOW_SLACK_SIGNING_SECRET"]
                )

    def role_problems(self) -> list[str]:
        """Why this serve cannot start its pieces without a Prefect server or stand-ins."""
        problems = []
        if (
            "prefect" not in self.only
            and "runner" in self.only
            and not self.env.get("PREFECT_API_URL")
        ):
            problems.append("a runner needs PREFECT_API_URL: the Prefect server it serves on")
        if "sandbox" not in self.only and (
            self.settings.uses_sandbox_jira or self.settings.uses_sandbox_slack
        ):
            problems.append(
                "without the stand-ins, Jira and Slack must be configured: set "
                "GOVFLOW_JIRA_URL/_USER/_TOKEN and GOVFLOW_SLACK_BOT_TOKEN/_SIGNING_SECRET"
            )
        return problems

    def _migrate(self) -> None:
        """Migrate the ledger and import new SOP files before any child touches them."""
        url = self.env.get("GOVFLOW_DATABASE_URL", self.settings.database_url)
        engine = make_engine(url)
        try:
            report = prepare_ledger(self.settings, self.rules, engine, datetime.now(UTC))
        finally:
            engine.dispose()
        self.say(f"ledger      {redact_url(url)} (migrated)")
        for line in report.lines():
            self.say(f"sops        {line}")

    def _start_prefect(self) -> None:
        """A Prefect server of this serve's own (see `govflow.prefect_server` on the port race)."""
        home = self.prefect_home or self.data_dir / "prefect"
        # Prefect's own setting for its server's port, if given; else the usual 4200 if free.
        given = self.env.get("PREFECT_SERVER_API_PORT")
        process, api_url = start_own_server(
            home,
            lambda argv, env: self._launch("prefect-server", argv, env),
            port=int(given) if given else None,
            prefer=PREFECT_PORT,
            abort=lambda: bool(self.stop_requests),
            say=self.say,
        )
        self.children.append(Child("prefect", process, api_url))
        self._check_stop()
        self.env["PREFECT_API_URL"] = api_url
        self.env.setdefault("PREFECT_HOME", str(home))
        self.say(f"prefect     UI at {api_url.removesuffix('/api')}  (API {api_url})")

    def _start_sandboxes(self) -> None:
        if self.settings.uses_sandbox_jira:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self._spawn(
                "jira-sandbox",
                [sys.executable, "-m", "sandbox.jira_server", "--port", str(port), "--seed"],
                f"Jira stand-in at {url}",
            )
            self._wait_http(f"{url}/rest/api/2/serverInfo", self.children[-1].process)
            self.env.update(
                {
                    "GOVFLOW_JIRA_URL": url,
                    "GOVFLOW_JIRA_USER": SANDBOX_JIRA_USER,
                    "GOVFLOW_JIRA_TOKEN": SANDBOX_JIRA_TOKEN,
                }
            )
        if self.settings.uses_sandbox_slack:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self._spawn(
                "slack-sandbox",
                [sys.executable, "-m", "sandbox.slack_server", "--port", str(port), "--seed"],
                f"Slack stand-in at {url}/api/",
            )
            self._wait_http(f"{url}/api/api.test", self.children[-1].process)
            self.env.update(
                {
                    "GOVFLOW_SLACK_API_URL": f"{url}/api/",
                    "GOVFLOW_SLACK_BOT_TOKEN": EXAMPLE_WORKSPACE.bot_token,
                    "GOVFLOW_SLACK_SIGNING_SECRET": SANDBOX_SIGNING_SECRET,
                }
            )
        if (self.settings.uses_sandbox_jira or self.settings.uses_sandbox_slack) and (
            "GOVFLOW_DATABASE_URL" not in os.environ
        ):
            # The stand-ins start empty every time, so their ledger and Prefect's runs must too
            # (docs/sandbox.md: a sandbox restart starts clean everywhere).
            ledger = self.data_dir / "sandbox" / "ledger.db"
            ledger.parent.mkdir(parents=True, exist_ok=True)
            for stale in ledger.parent.glob("ledger.db*"):
                stale.unlink()
            shutil.rmtree(self.data_dir / "sandbox" / "prefect", ignore_errors=True)
            self.prefect_home = self.data_dir / "sandbox" / "prefect"
            self.env["GOVFLOW_DATABASE_URL"] = f"sqlite:///{ledger}"

    def _spawn(self, name: str, argv: list[str], where: str) -> None:
        process = self._launch(name, argv, self.env)
        self.children.append(Child(name, process, where))
        self.say(f"{name:<11} {where}  (log: {self.data_dir / 'logs' / f'{name}.log'})")

    def _launch(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start `argv` under a guard, in a new process group, logging to logs/<name>.log."""
        if self._lifeline is None:
            # Only this process holds the writing end: the guards read end-of-file when it ends.
            self._lifeline = os.pipe()
        reading = self._lifeline[0]
        guard = [sys.executable, "-m", "govflow.guard", str(reading), "--", *argv]
        with open(self.data_dir / "logs" / f"{name}.log", "ab") as log:
            return subprocess.Popen(
                guard,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(reading,),
            )

    def _wait_http(self, url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        wait_for_http(url, process, timeout, what=url, abort=lambda: bool(self.stop_requests))
        self._check_stop()

    def watch(self, poll: float = 0.2) -> int:
        """Block until a stop is asked for (0) or a child exits on its own (1)."""
        while not self.stop_requests:
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    self.say(f"{child.name} exited with {code}; stopping everything")
                    return 1
            time.sleep(poll)
        return 0

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop every child: receiver and runner first, then the Prefect server and stand-ins.

        A stop signal that arrives meanwhile (a second Ctrl-C, or the first one when a child's
        exit started the stop) hurries it: what is still running gets SIGKILL at once.
        """
        already = self.stop_requests

        def hurried() -> bool:
            return self.stop_requests >= 2 or self.stop_requests > already

        first = [c for c in self.children if c.name in FIRST_TO_STOP]
        last = [c for c in self.children if c.name not in FIRST_TO_STOP]
        for tier in (first, last):
            _stop_tier(list(reversed(tier)), grace, hurried, self._tell)
        self.children.clear()
        if self._lifeline is not None:
            for end in self._lifeline:
                os.close(end)
            self._lifeline = None


def _stop_tier(
    tier: list[Child], grace: float, hurried: Callable[[], bool], say: Callable[[str], None]
) -> None:
    """SIGTERM every group of the tier, wait up to `grace` (less if hurried), SIGKILL the rest."""
    for child in tier:
        if child.process.poll() is None:
            _signal_group(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(c.process.poll() is None for c in tier):
        if hurried() or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for child in tier:
        if child.process.poll() is None:
            say(f"{child.name} did not stop in time; killing it")
        # Also after a clean exit: what the leader started may still run in its group.
        _signal_group(child.process.pid, signal.SIGKILL)
        child.process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    # A group already gone has nothing left to signal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


@contextmanager
def _remote_slack(url: str) -> Iterator[RemoteSlackSandbox]:
    remote = RemoteSlackSandbox(url)
    try:
        yield remote
    finally:
        remote.close()


@contextmanager
def _remote_jira(url: str) -> Iterator[RemoteJiraSandbox]:
    remote = RemoteJiraSandbox(url)
    try:
        yield remote
    finally:
        remote.close()
