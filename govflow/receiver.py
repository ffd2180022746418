"""The receiver process: Slack interactivity and Jira webhooks in one Starlette app.

    python -m govflow.receiver [--host 127.0.0.1] [--port N]

Routes:
    POST /slack/events   Slack clicks, modal submissions, `/govflow` (integrations.slack.receiver)
    POST /jira/webhook   Jira issue and comment webhooks (`JiraWebhookEndpoint` below)
    GET  /healthz        liveness
    GET  /readyz         readiness: the ledger answers (govflow.health)
    GET  /metrics        Prometheus: the ledger's backlog, ack latency (govflow.metrics)
With `GOVFLOW_SLACK_APP_TOKEN` set, Slack is received over Socket Mode instead (the same
handlers); the HTTP app still serves Jira's webhooks.

Both receivers verify, record in the ledger and answer at once; the work that follows a
recorded event runs in `advance`, which the runners' dispatchers start for every request
whose events wait in the ledger (`govflow.dispatch`; on PostgreSQL the event's commit
NOTIFYs them). The injected `AdvanceTrigger` is called after each answer: in production it
does nothing (`ledger_only`), tests use it to apply events at once. DESIGN decision 2.

Jira webhooks:
- a body larger than `MAX_PAYLOAD` is a 413 and a `payload_refused` record, never read whole;
- `X-Hub-Signature` is checked against `GOVFLOW_JIRA_WEBHOOK_SECRET` (constant time); a
  missing or forged one is a 401 and a `signature_refused` audit record;
- `X-Atlassian-Webhook-Identifier` and the digest of the signed body are each stored as the
  dedupe key of a receipt row in the ledger's events table (marked processed, so `advance`
  never applies it), in the same transaction as what the webhook records: a retried
  delivery records nothing, and neither does a replay under a forged identifier (the
  header is not signed, the body is);
- `jira:issue_created` / `jira:issue_updated` run intake for that one issue;
- `comment_created` on a request waiting for its requester records `RequesterReplied`
  (dedupe key `jira:comment:<id>`); govflow's own comments are ignored.
Jira retries 5xx answers for about 30 minutes, so a failure that may pass (Jira or the
ledger unreachable) answers 503, and a body govflow can never read answers 400.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import uvicorn
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.rules import Rules
from config.settings import load_settings
from domain.errors import BodyTooLarge, ConfigError, JiraError, PayloadInvalid, SignatureInvalid
from domain.lifecycle import RequesterReplied, RequestState
from domain.people import Person
from domain.stages import Stage
from govflow.health import LedgerCheck, Readiness, health_routes, prefect_check
from govflow.intake import IntakeContext, record_ticket
from govflow.metrics import AckTimer, ack_histogram, ledger_registry
from govflow.requesters import look_up, record_lookup_failure
from govflow.runtime import Runtime, slack_lookups, utc_now
from govflow.slack_handlers import FOLLOW_UP_WORKERS, AdvanceTrigger, SlackHandlers, log_failure
from govflow.training import TrainingDesk
from integrations.db.audit import record_audit, record_trigger_failure
from integrations.db.events import record_event, unprocessed_events
from integrations.db.models import EventRow
from integrations.db.requests import find_request
from integrations.follow_ups import FollowUps
from integrations.http_body import receive
from integrations.jira.gateway import JiraGateway
from integrations.jira.mapping import resolve_field_ids, ticket_from_issue
from integrations.jira.port import JiraPort
from integrations.jira.webhooks import (
    MAX_PAYLOAD,
    CommentCreated,
    IssueChanged,
    OtherEvent,
    parse_webhook,
    verify_signature,
)
from integrations.slack.identity import IdentityResolver, JiraAccounts, RequesterSlackIds
from integrations.slack.receiver import (
    MAX_REASON,
    SlackEndpoint,
    build_bolt_app,
    socket_mode_handler,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RECEIPT_KIND = "jira_webhook"
# How long a click waits for Jira's user search (the ack is due within Slack's 3 seconds).
JIRA_LOOKUP_TIMEOUT_SECONDS = 1.5
# How long a Jira webhook waits for Slack to match its requester (Jira gives up after 10 s).
SLACK_LOOKUP_TIMEOUT_SECONDS = 2.0

__all__ = ["AdvanceTrigger", "JiraWebhookEndpoint", "create_app", "ledger_only", "main"]


# --- Jira webhooks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one webhook delivery came to, as the HTTP answer and its `outcome` word."""

    status: int
    outcome: str
    request_id: int | None = None


class JiraWebhookEndpoint:
    """POST /jira/webhook: verify, de-duplicate, record, answer; `advance` after commit."""

    def __init__(
        self,
        *,
        secret: str | None,
        rules: Rules,
        sessions: sessionmaker[Session],
        jira: JiraPort,
        context: IntakeContext,
        projects: Sequence[str],
        api_user_email: str | None,
        advance: AdvanceTrigger,
        now: Clock,
        api_account_ids: frozenset[str] = frozenset(),
        follow_ups: FollowUps | None = None,
        requester_ids: RequesterSlackIds | None = None,
    ) -> None:
        self.secret = secret
        self.rules = rules
        self.sessions = sessions
        self.jira = jira
        self.context = context
        self.projects = frozenset(projects)
        self.api_user_email = api_user_email.casefold() if api_user_email else None
        self.api_account_ids = api_account_ids
        self.advance = advance
        self.now = now
        # None: requesters keep the Slack id the ledger already has, none is looked up.
        self.requester_ids = requester_ids
        self._field_ids: dict[str, str] | None = None
        self._field_lock = threading.Lock()
        # The trigger runs after the answer, yielding to the answers still owed.
        self.follow_ups = follow_ups or FollowUps(workers=2, name="jira-after")

    async def endpoint(self, request: Request) -> Response:
        """Read the body, then do the (blocking) work in a worker thread."""
        with self.follow_ups.answering():
            return await self._answer(request)

    async def _answer(self, request: Request) -> Response:
        return await run_in_threadpool(self.handle, *await receive(request, MAX_PAYLOAD))

    def handle(
        self, body: bytes | None, headers: Mapping[str, str], remote: str, path: str
    ) -> Response:
        """One delivery, start to answer (`body` None: larger than govflow reads)."""
        if body is None or len(body) > MAX_PAYLOAD:
            reason = str(BodyTooLarge(MAX_PAYLOAD))
            return self._refuse(413, "payload_refused", reason, path, remote)
        if not self.secret:
            return self._refuse(
                401, "signature_refused", "the receiver has no Jira webhook secret", path, remote
            )
        try:
            verify_signature(self.secret, body, headers.get("x-hub-signature"))
        except SignatureInvalid as exc:
            return self._refuse(401, "signature_refused", str(exc), path, remote)
        try:
            webhook = parse_webhook(body)
        except PayloadInvalid as exc:
            return self._refuse(400, "payload_refused", str(exc), path, remote)
        identifiers = _identifiers(headers.get("x-atlassian-webhook-identifier"), body)
        try:
            answer = self._record(webhook, identifiers)
        except (JiraError, OperationalError, ConfigError) as exc:
            # Worth Jira's retry: Jira or the ledger may answer next time (and a rules fix
            # takes effect on the receiver's restart).
            log.warning("webhook %s not recorded: %r", identifiers[0], exc)
            return JSONResponse({"ok": False, "error": type(exc).__name__}, status_code=503)
        if answer.request_id is not None and answer.outcome in ("recorded", "intake"):
            self.follow_ups.submit(self._trigger, answer.request_id).add_done_callback(log_failure)
        return JSONResponse({"ok": True, "outcome": answer.outcome}, status_code=answer.status)

    def _record(
        self, webhook: IssueChanged | CommentCreated | OtherEvent, identifiers: tuple[str, ...]
    ) -> Answer:
        if isinstance(webhook, IssueChanged):
            return self._issue(webhook, identifiers)
        if isinstance(webhook, CommentCreated):
            return self._comment(webhook)
        return Answer(200, f"ignored {webhook.event[:60]}")

    def _issue(self, webhook: IssueChanged, identifiers: tuple[str, ...]) -> Answer:
        """Intake for one issue, in one transaction with the delivery's receipts."""
        if webhook.type_name == "issue_commented":
            # Its `comment_created` twin carries the comment; no field changed.
            return Answer(200, "ignored issue_commented")
        field_ids = self.field_ids()
        ticket = ticket_from_issue(webhook.issue, self.rules, field_ids)
        if ticket.project not in self.projects:
            return Answer(200, f"ignored project {ticket.project[:20]}")
        # Before the transaction: a Slack call never holds the ledger's write lock.
        failure = None
        if self.requester_ids is not None:
            failure = look_up(self.requester_ids, ticket.reporter_email)
        now = self.now()
        with self.sessions() as session:
            outcome = record_ticket(session, ticket, self.context, now)
            row = find_request(session, ticket.key)
            assert row is not None  # record_ticket made sure it exists
            request_id = row.id
            if failure is not None and ticket.reporter_email:
                record_lookup_failure(session, request_id, ticket.reporter_email, failure, now)
            if not all(claim_receipt(session, request_id, i, now) for i in identifiers):
                # A retry or replay of a delivery already recorded: undo this attempt entirely.
                session.rollback()
                return Answer(200, "duplicate", request_id)
            record_audit(
                session,
                at=now,
                actor=ticket.reporter_account_id or "jira",
                action="webhook_received",
                request_id=row.id,
                detail={
                    "event": webhook.event,
                    "identifier": identifiers[0],
                    "intake": outcome.value,
                    "fields": list(webhook.changed_fields[:20]),
                },
            )
            session.commit()
        return Answer(200, "intake" if outcome.changed else "unchanged", request_id)

    def _comment(self, webhook: CommentCreated) -> Answer:
        """A Jira comment: `RequesterReplied` if its request may be waiting for one."""
        if self._is_ours(webhook):
            return Answer(200, "ignored own comment")
        actor = _commenter(webhook)
        if actor is None:
            return Answer(200, "ignored anonymous comment")
        now = self.now()
        with self.sessions.begin() as session:
            row = find_request(session, webhook.key)
            if row is None or row.state is None:
                return Answer(200, "ignored unknown request")
            state = RequestState.model_validate(row.state)
            # Outside NEEDS_INFO nothing waits for a reply, unless events not yet applied
            # (a question just asked) are about to put it there.
            waiting = state.stage is Stage.NEEDS_INFO or bool(unprocessed_events(session, row.id))
            if not waiting:
                return Answer(200, "ignored: not waiting for an answer", row.id)
            event = RequesterReplied(
                event_id=f"jira:comment:{webhook.comment_id}",
                actor=actor,
                at=now,
                body=webhook.body,
                comment_id=webhook.comment_id,
            )
            new = record_event(
                session,
                request_id=row.id,
                kind=event.kind,
                actor=actor.email or actor.jira_account_id,
                payload=event.model_dump(mode="json"),
                dedupe_key=event.event_id,
                now=now,
            )
            if not new:
                return Answer(200, "duplicate", row.id)
            record_audit(
                session,
                at=now,
                actor=actor.email or actor.jira_account_id or "jira",
                action="event_received",
                request_id=row.id,
                detail={"kind": event.kind, "dedupe_key": event.event_id, "via": "jira"},
            )
            return Answer(200, "recorded", row.id)

    def _is_ours(self, webhook: CommentCreated) -> bool:
        email = webhook.author_email.casefold() if webhook.author_email else None
        if email is not None and email == self.api_user_email:
            return True
        return webhook.author_account_id in self.api_account_ids

    def field_ids(self) -> dict[str, str]:
        """Logical field -> Jira field id, fetched once per process (fields rarely change)."""
        with self._field_lock:
            if self._field_ids is None:
                self._field_ids = resolve_field_ids(self.rules.fields, self.jira.fields())
            return self._field_ids

    def _trigger(self, request_id: int) -> None:
        try:
            self.advance(request_id)
        except Exception as exc:  # noqa: BLE001 - the trigger is injected; any failure is recoverable
            # Recorded and committed: the watchdog re-drives the request (DESIGN decision 2).
            log.warning("advance trigger for request %s failed: %r", request_id, exc)
            with self.sessions.begin() as session:
                record_trigger_failure(session, request_id=request_id, error=exc, at=self.now())

    def _refuse(self, status: int, action: str, reason: str, path: str, remote: str) -> Response:
        with self.sessions.begin() as session:
            record_audit(
                session,
                at=self.now(),
                actor=f"remote:{remote}",
                action=action,
                reason=reason[:MAX_REASON],
                detail={"path": path, "reason": reason[:MAX_REASON], "remote": remote},
            )
        return JSONResponse({"ok": False, "error": reason[:300]}, status_code=status)


def claim_receipt(session: Session, request_id: int, identifier: str, now: datetime) -> bool:
    """Store a webhook's identifier once (as a processed event row); False if it was seen."""
    key = f"jira:webhook:{identifier}"
    added = record_event(
        session,
        request_id=request_id,
        kind=RECEIPT_KIND,
        actor=None,
        payload={},
        dedupe_key=key,
        now=now,
    )
    if added:
        # Processed from the start: a receipt is bookkeeping, not something to apply.
        session.execute(update(EventRow).where(EventRow.dedupe_key == key).values(processed_at=now))
    return added


def _identifiers(header: str | None, body: bytes) -> tuple[str, ...]:
    """The delivery's identifier (if it sent one) and its body's digest, each claimed once.

    The identifier header is not signed: a replay of a captured delivery under a new one
    would pass for a new delivery. The signed body's digest is what a replay cannot change.
    """
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if header and header.isascii() and 0 < len(header.strip()) <= 200:
        return (header.strip(), digest)
    return (digest,)


def _commenter(webhook: CommentCreated) -> Person | None:
    if webhook.author_account_id is None and webhook.author_email is None:
        return None
    return Person(
        jira_account_id=webhook.author_account_id,
        email=webhook.author_email,
        name=webhook.author_name,
    )


# --- the app -----------------------------------------------------------------------------


def jira_lookups(runtime: Runtime) -> JiraGateway:
    """A Jira gateway for look-ups made before Slack is answered: no retries, a short wait.

    Slack wants its answer within 3 seconds; the library's retries would sleep for up to a
    minute, and a click refused with "try again" is better than one Slack gave up on.
    """
    wait = min(JIRA_LOOKUP_TIMEOUT_SECONDS, runtime.settings.http_timeout_seconds)
    return JiraGateway.from_settings(runtime.settings, timeout=wait, max_retries=0)


def slack_handlers(
    runtime: Runtime, *, advance: AdvanceTrigger, now: Clock, after: FollowUps | None = None
) -> SlackHandlers:
    """The Slack handlers over this runtime's ledger, gateway and rules."""
    rules = runtime.rules
    return SlackHandlers(
        rules=rules,
        sessions=runtime.sessions,
        slack=runtime.slack,
        identities=IdentityResolver(runtime.sessions, runtime.slack, now),
        jira_accounts=JiraAccounts(runtime.sessions, jira_lookups(runtime), now),
        advance=advance,
        now=now,
        after=after,
        training=TrainingDesk(runtime.sessions, rules, runtime.intake_context().issue_url),
    )


def create_app(
    runtime: Runtime,
    *,
    advance: AdvanceTrigger,
    now: Clock = utc_now,
    wall_clock: Callable[[], float] = time.time,
    in_threadpool: bool = True,
) -> Starlette:
    """The receiver's ASGI app; `app.state` holds the Bolt app (for Socket Mode) and follow-ups."""
    settings = runtime.settings
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    # One queue of follow-ups for both endpoints: each yields to every answer still owed.
    follow_ups = FollowUps(workers=FOLLOW_UP_WORKERS, name="receiver-after")
    bolt = build_bolt_app(
        slack_handlers(runtime, advance=advance, now=now, after=follow_ups),
        bot_token=bot_token,
        api_url=str(settings.slack_api_url),
    )
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    slack = SlackEndpoint(
        bolt,
        signing_secret=secret,
        sessions=runtime.sessions,
        now=now,
        wall_clock=wall_clock,
        in_threadpool=in_threadpool,
        follow_ups=follow_ups,
    )
    webhook_secret = (
        settings.jira_webhook_secret.get_secret_value() if settings.jira_webhook_secret else None
    )
    jira = JiraWebhookEndpoint(
        secret=webhook_secret,
        rules=runtime.rules,
        sessions=runtime.sessions,
        jira=runtime.jira,
        context=runtime.intake_context(),
        projects=runtime.projects,
        api_user_email=settings.jira_user,
        advance=advance,
        now=now,
        follow_ups=follow_ups,
        requester_ids=RequesterSlackIds(
            runtime.sessions, slack_lookups(settings, SLACK_LOOKUP_TIMEOUT_SECONDS), now
        ),
    )

    # Health and metrics (govflow.health): ready while the ledger answers.
    registry = ledger_registry(runtime.engine, now)
    readiness = Readiness(
        required={"ledger": LedgerCheck(runtime.engine)}, reported={"prefect": prefect_check()}
    )
    timed = {"/slack/events": "slack", "/jira/webhook": "jira"}
    app = Starlette(
        routes=[
            Route("/slack/events", slack.endpoint, methods=["POST"]),
            Route("/jira/webhook", jira.endpoint, methods=["POST"]),
            *health_routes(readiness, registry),
        ],
        middleware=[Middleware(AckTimer, histogram=ack_histogram(registry), paths=timed)],
    )
    app.state.bolt = bolt
    app.state.follow_ups = follow_ups
    return app


def ledger_only(request_id: int) -> None:
    """The production trigger: none. The event is in the ledger, where the runners find it."""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the receiver until interrupted (Socket Mode for Slack when an app token is set)."""
    parser = argparse.ArgumentParser(prog="python -m govflow.receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=None, help="default: GOVFLOW_RECEIVER_PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        runtime = Runtime.from_settings(load_settings())
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    app = create_app(runtime, advance=ledger_only)
    settings = runtime.settings
    port = args.port or settings.receiver_port
    handler = None
    if settings.slack_app_token is not None:
        handler = socket_mode_handler(app.state.bolt, settings.slack_app_token.get_secret_value())
        handler.connect()
        print("receiver    Slack over Socket Mode", flush=True)
    print(
        f"receiver    listening on http://{args.host}:{port} (/slack/events, /jira/webhook)",
        flush=True,
    )
    try:
        uvicorn.run(app, host=args.host, port=port, log_level="warning", access_log=False)
    finally:
        if handler is not None:
            handler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
