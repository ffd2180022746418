"""POST /jira/webhook: verify, parse, call the intake use case, answer.

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
What a delivery records is `govflow.webhook_intake`; this module reads the issue into a
`Ticket` (the field ids fetched once), looks the reporter up in Slack before the ledger's
transaction, and turns the outcome into the answer. Jira retries 5xx answers for about 30
minutes, so a failure that may pass (Jira or the ledger unreachable) answers 503, and a
body govflow can never read answers 400. `advance` is triggered after the answer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import BodyTooLarge, ConfigError, JiraError, PayloadInvalid, SignatureInvalid
from domain.people import Person
from domain.rules import Rules
from govflow.intake import IntakeContext
from govflow.requesters import look_up
from govflow.slack_handlers import AdvanceTrigger, log_failure
from govflow.webhook_intake import Delivery, take_comment, take_issue
from integrations.db.audit import record_trigger_failure
from integrations.follow_ups import FollowUps
from integrations.http_body import receive, refuse_inbound
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
from integrations.slack.identity import RequesterSlackIds

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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
            delivery = self._record(webhook, identifiers)
        except (JiraError, OperationalError, ConfigError) as exc:
            # Worth Jira's retry: Jira or the ledger may answer next time (and a rules fix
            # takes effect on the receiver's restart).
            log.warning("webhook %s not recorded: %r", identifiers[0], exc)
            return JSONResponse({"ok": False, "error": type(exc).__name__}, status_code=503)
        if (request_id := delivery.to_advance) is not None:
            self.follow_ups.submit(self._trigger, request_id).add_done_callback(log_failure)
        return JSONResponse({"ok": True, "outcome": delivery.outcome}, status_code=200)

    def _record(
        self, webhook: IssueChanged | CommentCreated | OtherEvent, identifiers: tuple[str, ...]
    ) -> Delivery:
        if isinstance(webhook, IssueChanged):
            return self._issue(webhook, identifiers)
        if isinstance(webhook, CommentCreated):
            return self._comment(webhook)
        return Delivery(f"ignored {webhook.event[:60]}")

    def _issue(self, webhook: IssueChanged, identifiers: tuple[str, ...]) -> Delivery:
        """Intake for one issue, in one transaction with the delivery's receipts."""
        if webhook.type_name == "issue_commented":
            # Its `comment_created` twin carries the comment; no field changed.
            return Delivery("ignored issue_commented")
        field_ids = self.field_ids()
        ticket = ticket_from_issue(webhook.issue, self.rules, field_ids)
        if ticket.project not in self.projects:
            return Delivery(f"ignored project {ticket.project[:20]}")
        # Before the transaction: a Slack call never holds the ledger's write lock.
        failure = None
        if self.requester_ids is not None:
            failure = look_up(self.requester_ids, ticket.reporter_email)
        now = self.now()
        with self.sessions() as session:
            delivery = take_issue(
                session,
                ticket,
                self.context,
                event=webhook.event,
                identifiers=identifiers,
                changed_fields=webhook.changed_fields,
                lookup_failure=failure,
                now=now,
            )
            session.commit()
        return delivery

    def _comment(self, webhook: CommentCreated) -> Delivery:
        """A Jira comment: `RequesterReplied` if its request may be waiting for one."""
        if self._is_ours(webhook):
            return Delivery("ignored own comment")
        actor = _commenter(webhook)
        if actor is None:
            return Delivery("ignored anonymous comment")
        with self.sessions.begin() as session:
            return take_comment(
                session, webhook.key, webhook.comment_id, webhook.body, actor, self.now()
            )

    def _is_ours(self, webhook: CommentCreated) -> bool:
        """Whether govflow's own Jira user wrote the comment."""
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
        return refuse_inbound(self.sessions, self.now(), status, action, reason, path, remote)


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
