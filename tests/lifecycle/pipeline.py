"""The whole pipeline in one process, on a simulated clock, for the stateful lifecycle test.

Jira and Slack stand-ins on loopback, the receiver app served over HTTP with the stand-ins
delivering signed webhooks and interactions to it, and govflow's own use cases (intake's
poll, `advance`, clock reconciliation, outbox delivery, the SLA watchdog) called directly
with the simulated `now`: the same code the Prefect tasks wrap, without Prefect, so that
every step is synchronous and the run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config.loader import load_rules
from config.settings import DEFAULT_RULES, load_settings
from domain.lifecycle import RequestState
from domain.rules import Rules
from govflow.advance import advance_request
from govflow.effects import EffectContext
from govflow.intake import record_ticket
from govflow.polling import newest_update, poll_tickets
from govflow.receiver import create_app
from govflow.replies import awaiting_reply, record_replies
from govflow.request_clocks import reconcile_request, refresh_roots
from govflow.runtime import Runtime
from govflow.sla_watchdog import redrive_stalled, sweep_due
from govflow.sop_import import import_sops
from integrations.db.cursors import advance_cursor, read_cursor
from integrations.db.engine import make_sessionmaker
from integrations.db.events import requests_with_unprocessed_events
from integrations.db.models import (
    AuditRow,
    EventRow,
    OutboxRow,
    RequestRow,
    SlaClockRow,
    SopVersionRow,
)
from integrations.db.requests import find_request
from integrations.delivery import Deliverer, DeliveryReport
from integrations.jira.gateway import JiraGateway
from integrations.slack.gateway import SlackGateway
from sandbox.jira.seed import CUSTOM_FIELDS, PROJECT_KEY, PROJECT_NAME, USERS
from sandbox.jira.webhooks import WebhookDelivery, signature
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.interactivity import Delivery
from sandbox.slack.sandbox import SlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from tests.support.databases import migrated_engine

SIGNING_SECRET = "lifecycle-signing-secret"
WEBHOOK_SECRET = "lifecycle-webhook-secret"
INTAKE_CURSOR = "intake"
SOP_DIRECTORY = DEFAULT_RULES.parent / "sops"


class SimClock:
    """The one clock every use case, the receiver and the Jira stand-in read."""

    def __init__(self, start: datetime) -> None:
        self._at = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """The simulated now."""
        with self._lock:
            return self._at

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta`; the new now."""
        with self._lock:
            self._at += delta
            return self._at


class IgnoredTrigger:
    """The receivers' `advance` trigger: the test drains events itself, at its own steps."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request_id: int) -> None:
        """Count the call; the `drain` step does the work."""
        self.calls += 1


@dataclass(frozen=True)
class Ledger:
    """A migrated ledger for one example, and how to let go of it."""

    url: str
    engine: Engine


LedgerFactory = Callable[[ExitStack], Ledger]


def migrated(stack: ExitStack, url: str) -> Ledger:
    """A migrated ledger on `url`, disposed when `stack` closes."""
    engine = stack.enter_context(migrated_engine(url))
    return Ledger(url=url, engine=engine)


def entered(stack: ExitStack, context: AbstractContextManager[str]) -> str:
    """Enter a context manager yielding a URL on `stack`."""
    return stack.enter_context(context)


@dataclass(frozen=True)
class Drained:
    """What one `advance` of one request did."""

    request_id: int
    applied: int
    refused: int


class Pipeline:
    """Stand-ins, ledger, receiver and use cases for one example of the stateful test."""

    def __init__(self, ledger: Ledger, clock: SimClock, rules: Rules) -> None:
        self.clock = clock
        self.rules = rules
        self.engine = ledger.engine
        self.sessions: sessionmaker[Session] = make_sessionmaker(ledger.engine)
        self._stack = ExitStack()
        self.jira = self._stack.enter_context(JiraSandbox())
        self.jira.set_clock(clock())
        _seed_jira(self.jira)
        self.slack = self._stack.enter_context(SlackSandbox(seed=True))
        user, token = self.jira.credentials
        settings = load_settings(
            {
                "GOVFLOW_JIRA_URL": self.jira.url,
                "GOVFLOW_JIRA_USER": user,
                "GOVFLOW_JIRA_TOKEN": token,
                "GOVFLOW_JIRA_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "GOVFLOW_SLACK_BOT_TOKEN": self.slack.bot_token,
                "GOVFLOW_SLACK_API_URL": self.slack.api_url,
                "GOVFLOW_SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "GOVFLOW_DATABASE_URL": ledger.url,
            }
        )
        self.runtime = Runtime(
            settings=settings,
            rules=rules,
            engine=ledger.engine,
            sessions=self.sessions,
            jira=JiraGateway(self.jira.url, user, token, max_retries=0, timeout=10),
            slack=SlackGateway(self.slack.bot_token, base_url=self.slack.api_url),
        )
        self.context = EffectContext(rules=rules, jira_browse_url=self.runtime.jira.browse_url)
        self.trigger = IgnoredTrigger()
        app = create_app(self.runtime, advance=self.trigger, now=clock)
        server = self._stack.enter_context(ThreadedServer(app))
        self.webhook_url = f"{server.url}/jira/webhook"
        self.slack.configure_receiver(f"{server.url}/slack/events", SIGNING_SECRET)
        self.jira.configure_webhook(self.webhook_url, WEBHOOK_SECRET, retry_delays=(0.05,))
        # Held until a step flushes them, so that each step's deliveries finish within it.
        self.jira.deliver_webhooks = False
        self.deliverer = Deliverer(
            sessions=self.sessions, jira=self.runtime.jira, slack=self.runtime.slack, clock=clock
        )
        self._http = self._stack.enter_context(httpx.Client(timeout=10))
        with self.sessions.begin() as session:
            import_sops(session, SOP_DIRECTORY, clock(), rules=rules)

    def close(self) -> None:
        """Stop the receiver and the stand-ins."""
        self.jira.configure_webhook(None, None)
        self.slack.configure_receiver(None, "")
        self._stack.close()

    # --- time ------------------------------------------------------------------------------

    def tick(self, delta: timedelta) -> datetime:
        """Let time pass, for govflow and for the Jira stand-in alike."""
        now = self.clock.advance(delta)
        self.jira.set_clock(now)
        return now

    # --- Jira side -------------------------------------------------------------------------

    def flush_webhooks(self) -> None:
        """Deliver every webhook Jira holds to the receiver, and wait for the answers."""
        self.jira.flush_webhooks(timeout=30)

    def redeliver_webhook(self, delivery: WebhookDelivery) -> dict[str, Any]:
        """Post an earlier webhook again exactly as Jira's retry would; the receiver's answer."""
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "X-Atlassian-Webhook-Retry": "1",
            "X-Hub-Signature": signature(WEBHOOK_SECRET, body),
        }
        answer = self._http.post(self.webhook_url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def poll_intake(self) -> None:
        """Intake's poll: record every ticket updated since the cursor, then read replies."""
        with self.sessions.begin() as session:
            since = read_cursor(session, INTAKE_CURSOR)
        tickets = poll_tickets(self.runtime.jira, self.rules, self.runtime.projects, since)
        for ticket in tickets:
            with self.sessions.begin() as session:
                record_ticket(session, ticket, self.context, self.clock())
        newest = newest_update(tickets)
        if newest is not None:
            with self.sessions.begin() as session:
                advance_cursor(session, INTAKE_CURSOR, newest, self.clock())
        for ticket in tickets:
            with self.sessions.begin() as session:
                row = find_request(session, ticket.key)
                if not awaiting_reply(row):
                    continue
            comments = self.runtime.jira.comments(ticket.key)
            with self.sessions.begin() as session:
                row = find_request(session, ticket.key)
                if row is not None and awaiting_reply(row):
                    user = self.runtime.settings.jira_user
                    record_replies(session, row, comments, api_user=user, now=self.clock())

    # --- govflow's runs --------------------------------------------------------------------

    def drain(self) -> list[Drained]:
        """`advance` every request with unapplied events (the `apply-events` task's body)."""
        now = self.clock()
        with self.sessions.begin() as session:
            waiting = requests_with_unprocessed_events(
                session, received_before=now + timedelta(seconds=1)
            )
        done = []
        for request_id in waiting:
            with self.sessions.begin() as session:
                summary = advance_request(session, request_id, self.context, now)
                reconcile_request(session, request_id, self.context, now)
            done.append(Drained(request_id, summary.applied, summary.refused))
        return done

    def deliver(self) -> DeliveryReport:
        """Deliver every due outbox effect, then let Jira's resulting webhooks arrive."""
        report = self.deliverer.deliver_due()
        self.flush_webhooks()
        return report

    def watchdog(self) -> list[int]:
        """The SLA watchdog's run at the simulated now: fire, refresh roots, re-drive."""
        now = self.clock()
        fired = sweep_due(self.sessions, self.rules, now)
        with self.sessions.begin() as session:
            ids = [r.id for k in fired.keys if (r := find_request(session, k)) is not None]
            refresh_roots(session, ids, self.context, now)
        return redrive_stalled(self.sessions, now, self.trigger)

    # --- Slack side ------------------------------------------------------------------------

    def click(self, channel: str, ts: str, action: str, user: str, value: str | None) -> Delivery:
        """`user` presses a button on a message the stand-in holds."""
        answer = self.slack.click(channel, ts, action, user, value=value)
        assert answer.status == 200, answer.body
        return answer

    def new_view(self, user: str, known: set[str], timeout: float = 5.0) -> str | None:
        """The id of a view opened for `user` that is not in `known` (views.open runs late)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [v.id for v in self.slack.views(user=user) if v.id not in known]
            if fresh:
                return fresh[-1]
            time.sleep(0.01)
        return None

    # --- reading the ledger ----------------------------------------------------------------

    def requests(self) -> list[RequestRow]:
        """Every request row, oldest first."""
        with self.sessions.begin() as session:
            rows = list(session.scalars(select(RequestRow).order_by(RequestRow.id)))
            session.expunge_all()
            return rows

    def state(self, request_id: int) -> RequestState | None:
        """A request's lifecycle state as the ledger holds it."""
        with self.sessions.begin() as session:
            row = session.get(RequestRow, request_id)
            assert row is not None
            return None if row.state is None else RequestState.model_validate(row.state)

    def events(self) -> list[EventRow]:
        """Every event row, in arrival order."""
        return self._all(EventRow)

    def audit(self) -> list[AuditRow]:
        """The whole audit trail, in order."""
        return self._all(AuditRow)

    def outbox(self) -> list[OutboxRow]:
        """Every outbox row, in order."""
        return self._all(OutboxRow)

    def published_versions(self, jira_key: str) -> list[SopVersionRow]:
        """The SOP versions the registry holds for one request."""
        with self.sessions.begin() as session:
            query = select(SopVersionRow).where(SopVersionRow.jira_key == jira_key)
            rows = list(session.scalars(query.order_by(SopVersionRow.id)))
            session.expunge_all()
            return rows

    def counts(self) -> tuple[int, int, int, int]:
        """How many events, audit rows, outbox rows and clock rows the ledger holds."""
        with self.sessions.begin() as session:
            return (
                session.scalar(select(func.count()).select_from(EventRow)) or 0,
                session.scalar(select(func.count()).select_from(AuditRow)) or 0,
                session.scalar(select(func.count()).select_from(OutboxRow)) or 0,
                session.scalar(select(func.count()).select_from(SlaClockRow)) or 0,
            )

    def _all(self, model: Any) -> list[Any]:
        with self.sessions.begin() as session:
            rows = list(session.scalars(select(model).order_by(model.id)))
            session.expunge_all()
            return rows


def audit_digest(row: AuditRow) -> str:
    """A hash of everything an audit row says."""
    content = [row.request_id, row.at.isoformat(), row.actor, row.action, row.reason, row.detail]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _seed_jira(jira: JiraSandbox) -> None:
    """The MODREQ project, its fields and people (no example issues), plus Slack's people."""
    state = jira.state
    with state.lock:
        for spec in CUSTOM_FIELDS:
            state.add_custom_field(spec.name, spec.kind, options=spec.options, field_id=spec.id)
        for person in USERS:
            state.add_user(person.email, person.display_name, time_zone=person.time_zone)
        for user in EXAMPLE_WORKSPACE.users:
            if user.email:
                state.add_user(user.email, user.real_name, time_zone=user.tz)
        state.add_project(PROJECT_KEY, PROJECT_NAME)


def shipped_rules() -> Rules:
    """The packaged rules."""
    return load_rules(DEFAULT_RULES)


def sqlite_ledgers(directory: Path) -> Iterator[str]:
    """Fresh SQLite ledger URLs in `directory`, one per call of `next`."""
    n = 0
    while True:
        n += 1
        yield f"sqlite:///{directory / f'ledger-{n}.db'}"
