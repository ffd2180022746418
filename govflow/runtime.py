"""Everything a flow run needs, built from settings at the entry point, never at import."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.loader import load_rules
from config.settings import Settings, load_settings
from domain.rules import Rules
from govflow.intake import IntakeContext
from integrations.db.engine import make_engine, make_sessionmaker, reader_for
from integrations.delivery import Deliverer
from integrations.jira.gateway import JiraGateway
from integrations.slack.gateway import SlackGateway
from integrations.slack.identity import RequesterSlackIds

# How long intake waits for Slack to match a requester's email before going on without it.
REQUESTER_LOOKUP_TIMEOUT_SECONDS = 5.0

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_runtimes: dict[tuple[str, tuple[tuple[str, str], ...]], Runtime] = {}
_runtimes_lock = threading.Lock()
_readers: dict[str, sessionmaker[Session]] = {}
_readers_lock = threading.Lock()


def utc_now() -> datetime:
    """The current time in UTC: the one place the pipeline reads the clock."""
    return datetime.now(UTC)


def shared_engine(url: str) -> Engine:
    """One engine (and so one connection pool) per database URL per process."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    """Close every shared engine's connections (tests, and a runner shutting down)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
    with _runtimes_lock:
        _runtimes.clear()
    with _readers_lock:
        for reads in _readers.values():
            bind = reads.kw.get("bind")
            if isinstance(bind, Engine):
                bind.dispose()
        _readers.clear()


def slack_gateway(settings: Settings) -> SlackGateway:
    """The Slack gateway for these settings (the stand-in's token when none is configured)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    return SlackGateway(
        token, base_url=str(settings.slack_api_url), timeout=settings.http_timeout_seconds
    )


def slack_lookups(settings: Settings, timeout: float) -> SlackGateway:
    """A Slack gateway for look-ups made on intake's way: no retries, at most `timeout` s.

    A ticket must not wait behind a throttled or absent Slack (a 429's Retry-After alone can
    be a minute): the look-up fails fast and the next intake pass asks again.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    wait = min(timeout, settings.http_timeout_seconds)
    return SlackGateway(
        token,
        base_url=str(settings.slack_api_url),
        timeout=max(1, round(wait)),
        rate_limit_retries=0,
        server_error_retries=0,
        connection_retries=0,
    )


class Runtime:
    """Settings, rules, ledger and gateways for one flow run.

    A plain class on purpose: Prefect walks dataclass and pydantic task arguments looking for
    futures, and this object holds the whole rule set and live clients.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        rules: Rules,
        engine: Engine,
        sessions: sessionmaker[Session],
        jira: JiraGateway,
        slack: SlackGateway,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.engine = engine
        self.sessions = sessions
        self.jira = jira
        self.slack = slack

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Build the runtime; raises ConfigError if settings or rules are invalid."""
        engine = shared_engine(settings.database_url)
        return cls(
            settings=settings,
            rules=load_rules(settings.rules),
            engine=engine,
            sessions=make_sessionmaker(engine),
            jira=JiraGateway.from_settings(settings),
            slack=slack_gateway(settings),
        )

    @classmethod
    def shared(cls) -> Runtime:
        """This process's runtime for the settings in its environment, built once per settings.

        A runner starts many `advance` runs a second; loading the rules afresh for each costs
        about 30 ms of CPU, and reading the settings (environment and `.env`) through
        pydantic-settings 5-50 ms. Settings and rules change only with a restart, so the
        runtime is looked up by the GOVFLOW_ variables and the working directory (where
        `.env` is read from); a new combination builds a new one.
        """
        key = (os.getcwd(), tuple(sorted(i for i in os.environ.items() if _ours(i[0]))))
        with _runtimes_lock:
            runtime = _runtimes.get(key)
        if runtime is None:
            built = cls.from_settings(load_settings())
            with _runtimes_lock:
                runtime = _runtimes.setdefault(key, built)
        return runtime

    @classmethod
    def load(cls) -> Runtime:
        """Build the runtime from the process environment."""
        return cls.from_settings(load_settings())

    @property
    def projects(self) -> list[str]:
        """The Jira projects intake polls."""
        return list(self.settings.jira_projects or self.rules.jira.projects)

    def intake_context(self) -> IntakeContext:
        """What recording a ticket needs."""
        return IntakeContext(rules=self.rules, jira_browse_url=self.jira.browse_url)

    def requester_ids(self) -> RequesterSlackIds:
        """Requesters' Slack ids through the ledger, then a fail-fast `users.lookupByEmail`."""
        lookups = slack_lookups(self.settings, REQUESTER_LOOKUP_TIMEOUT_SECONDS)
        return RequesterSlackIds(self.sessions, lookups, utc_now)

    @property
    def reads(self) -> sessionmaker[Session]:
        """Sessions for reading only, which take no write lock (SQLite: a WAL snapshot).

        `sessions` begin every SQLite transaction IMMEDIATE, so even a read waits for the one
        write lock: runs reading their request's label, journeys and the board queued behind
        every writer (bench field: 4 dispatcher threads averaged one run in flight).
        """
        with _readers_lock:
            reads = _readers.get(self.settings.database_url)
            if reads is None:
                reads = _readers[self.settings.database_url] = make_sessionmaker(
                    reader_for(self.engine)
                )
            return reads

    def deliverer(self) -> Deliverer:
        """A deliverer of outbox effects through this runtime's gateways."""
        return Deliverer(sessions=self.sessions, jira=self.jira, slack=self.slack, clock=utc_now)


def _ours(name: str) -> bool:
    return name.upper().startswith("GOVFLOW_")
