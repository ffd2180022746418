"""What govflow does with a click, a modal submission and `/govflow` (DESIGN decision 4).

Bolt calls these listeners once `integrations.slack.receiver` has verified the signature
and admitted the body. Each one parses the payload into our own values
(`integrations.slack.interaction_parsing`), resolves the person (`identity`), calls a use case
(`govflow.decisions`, `govflow.commands`, `govflow.training`) in one ledger transaction,
and answers: the ack (with the modal's errors, or a slash command's text), then, off the
request's thread, the modal to open or an ephemeral message (`integrations.slack.answers`)
and the `advance` trigger. Refused: nothing is recorded, the person is told why, and the
refusal is audited. A modal button acknowledges and calls `views.open` at once: its
trigger_id lives 3 seconds.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, Protocol

from slack_bolt import BoltResponse
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import NotEntitled, PayloadInvalid, SlackError
from domain.people import Person
from domain.rules import Rules
from govflow import commands, own_request
from govflow.decisions import (
    MAX_REASON,
    OpenModal,
    Recorded,
    Refused,
    reason_of,
    refuse_unchecked,
    take_click,
    take_submission,
)
from govflow.training import TrainingDesk
from integrations.db.audit import record_audit, record_trigger_failure
from integrations.follow_ups import FollowUps
from integrations.slack.answers import confirmation, respond, tell
from integrations.slack.identity import IdentityResolver, JiraAccounts
from integrations.slack.interaction_events import event_from_click, event_from_submission
from integrations.slack.interaction_parsing import ButtonClick, ModalSubmission, parse_interaction
from integrations.slack.modal_inputs import SubmissionErrors
from integrations.slack.port import SlackPort
from integrations.slack.slash_command import USAGE, SlashKind, parse_slash_command
from integrations.slack.training import is_training_click, parse_training_click

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Ack = Callable[..., Any]
FOLLOW_UP_WORKERS = 4


class AdvanceTrigger(Protocol):
    """Called after an answer with the request whose event was recorded.

    In production it does nothing (`govflow.receiver.ledger_only`): the runners' dispatchers
    find the event in the ledger. Tests pass one that applies the events at once.
    """

    def __call__(self, request_id: int) -> None:
        """Hint that the request has new work; the ledger, not this call, is what counts."""
        ...


class SlackHandlers:
    """The listeners Bolt calls: parse, call the use case, answer."""

    def __init__(
        self,
        *,
        rules: Rules,
        sessions: sessionmaker[Session],
        slack: SlackPort,
        identities: IdentityResolver,
        jira_accounts: JiraAccounts,
        advance: AdvanceTrigger,
        now: Clock,
        after: Executor | None = None,
        training: TrainingDesk | None = None,
    ) -> None:
        self.rules = rules
        self.sessions = sessions
        self.slack = slack
        self.identities = identities
        self.jira_accounts = jira_accounts
        self.advance = advance
        self.now = now
        self.training = training
        # Follow-ups (views.open, ephemerals, the advance trigger) must not delay the ack. A
        # few threads drain a burst's follow-ups in well under views.open's 3 seconds while
        # leaving the CPU to the requests still waiting for their ack.
        self.after = after or FollowUps(workers=FOLLOW_UP_WORKERS, name="slack-after")
        # SQLite has one writer at a time and makes the others retry with sleeps of up to
        # 100 ms; queueing this process's clicks on a lock instead wakes the next one the
        # moment the previous one commits. PostgreSQL needs no such thing.
        bind = sessions.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._writers: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One ledger transaction, committed on success (serialized in-process on SQLite)."""
        with self._writers, self.sessions.begin() as session:
            yield session

    # --- buttons -------------------------------------------------------------------------

    def on_block_action(self, body: Mapping[str, Any], ack: Ack) -> None:
        """A button click: refuse, record, or open the modal it stands for."""
        now = self.now()
        if self.training is not None and is_training_click(body):
            self._training_click(body, ack, now)
            return
        try:
            click = parse_interaction(body)
            if not isinstance(click, ButtonClick):
                raise PayloadInvalid("a block_actions payload parsed as something else")
        except PayloadInvalid as exc:
            self._payload_refused(body, str(exc), now)
            ack()
            self._later(self._say_unreadable, body, str(exc))
            return
        try:
            actor = self.identities.person(click.user_id, name=click.user_name)
            actor, requester = self._against_requester(click.jira_key, actor, now)
            event = event_from_click(click, actor, now)
        except (SlackError, PayloadInvalid, NotEntitled) as exc:
            reason = _identity_reason(exc)
            detail = {"action": click.action, "jira_key": click.jira_key}
            with self._transaction() as session:
                refuse_unchecked(session, click.jira_key, click.user_id, reason, detail, now)
            ack()
            self._later(self._tell, click.user_id, click.channel_id, click.response_url, reason)
            return
        with self._transaction() as session:
            outcome = take_click(session, self.rules, click, actor, event, now, requester)
        ack()
        self._later(self._follow_up, click, outcome)

    def _training_click(self, body: Mapping[str, Any], ack: Ack, now: datetime) -> None:
        """A click on a training message (issue 15): recorded, then answered privately."""
        assert self.training is not None
        try:
            click = parse_training_click(body)
        except PayloadInvalid as exc:
            self._payload_refused(body, str(exc), now)
            ack()
            return
        try:
            actor = self.identities.person(click.user_id)
            text = self.training(click, actor, now)
        except SlackError as exc:
            text = _identity_reason(exc)
        ack()
        self._later(self._tell, click.user_id, click.channel_id, click.response_url, text)

    def _follow_up(self, click: ButtonClick, outcome: OpenModal | Recorded | Refused) -> None:
        """After the ack: open the modal, tell the clicker, start `advance`."""
        if isinstance(outcome, OpenModal):
            try:
                self.slack.open_view(click.trigger_id, outcome.view)
            except SlackError as exc:
                log.warning("views.open for %s failed: %s", click.jira_key, exc)
                self._tell(
                    click.user_id,
                    click.channel_id,
                    click.response_url,
                    "Slack did not open the form in time; click the button again.",
                )
            return
        if isinstance(outcome, Refused):
            self._tell(click.user_id, click.channel_id, click.response_url, outcome.reason)
            return
        if outcome.new:
            # Advance first: the confirmation is a courtesy, the run is what moves the request.
            self._trigger(outcome.request_id)
            done = confirmation(click.action, click.jira_key)
            self._tell(click.user_id, click.channel_id, click.response_url, done)

    # --- modals --------------------------------------------------------------------------

    def on_view_submission(self, body: Mapping[str, Any], ack: Ack) -> None:
        """A submitted modal: errors back into the modal, or record it and close it."""
        now = self.now()
        try:
            sub = parse_interaction(body)
            if not isinstance(sub, ModalSubmission):
                raise PayloadInvalid("a view_submission payload parsed as something else")
        except PayloadInvalid as exc:
            self._payload_refused(body, str(exc), now)
            ack()
            return
        first_input = next(iter(sub.values), None)
        try:
            actor = self.identities.person(sub.user_id, name=sub.user_name)
            actor, requester = self._against_requester(sub.jira_key, actor, now)
            event = event_from_submission(sub, actor, now)
        except SubmissionErrors as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except (SlackError, PayloadInvalid, NotEntitled) as exc:
            reason = _identity_reason(exc)
            detail = {"callback": sub.callback, "jira_key": sub.jira_key}
            with self._transaction() as session:
                refuse_unchecked(session, sub.jira_key, sub.user_id, reason, detail, now)
            _answer_modal(ack, first_input, reason)
            return
        with self._transaction() as session:
            outcome = take_submission(session, self.rules, sub, actor, event, now, requester)
        if isinstance(outcome, Refused):
            _answer_modal(ack, first_input, outcome.reason)
            return
        ack()
        if outcome.new:
            self._later(self._after_submission, sub, outcome.request_id)

    def _after_submission(self, sub: ModalSubmission, request_id: int) -> None:
        """After the modal closed: start `advance`, confirm in the card's channel."""
        self._trigger(request_id)
        if sub.channel_id:
            done = confirmation(sub.callback, sub.jira_key)
            self._tell(sub.user_id, sub.channel_id, None, done)

    # --- shared steps --------------------------------------------------------------------

    def _against_requester(
        self, jira_key: str, actor: Person, now: datetime
    ) -> tuple[Person, Person | None]:
        """The actor with their Jira account, and the requester as learned (`own_request`)."""
        with self._transaction() as session:
            found = own_request.on_file(session, self.rules, jira_key, actor, now)
        return own_request.confirm(found, actor, self.jira_accounts, self.identities)

    def _payload_refused(self, body: Mapping[str, Any], reason: str, now: datetime) -> None:
        """Audit an interaction govflow cannot read."""
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, Mapping) else None
        who = user_id if isinstance(user_id, str) and len(user_id) < 40 else "unknown"
        with self._transaction() as session:
            record_audit(
                session,
                at=now,
                actor=who,
                action="payload_refused",
                reason=reason[:MAX_REASON],
                detail={"type": str(body.get("type"))[:40]},
            )

    def _say_unreadable(self, body: Mapping[str, Any], reason: str) -> None:
        """Tell the person a click could not be used, if Slack said where to answer."""
        response_url = body.get("response_url")
        if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
            respond(response_url, f"govflow could not use this: {reason}")

    def _later(self, work: Callable[..., None], *args: Any) -> None:
        """Run `work` after the acknowledgement, off the request's thread."""
        self.after.submit(work, *args).add_done_callback(log_failure)

    def _trigger(self, request_id: int) -> None:
        """Start `advance` for a request whose event is committed."""
        try:
            self.advance(request_id)
        except Exception as exc:  # noqa: BLE001 - the trigger is injected; any failure is recoverable
            # The event is committed; the watchdog re-drives requests whose events wait
            # (DESIGN decision 2), so a lost trigger delays the request but loses nothing.
            log.warning("advance trigger for request %s failed: %r", request_id, exc)
            with self._transaction() as session:
                record_trigger_failure(session, request_id=request_id, error=exc, at=self.now())

    def _tell(
        self, user_id: str, channel_id: str | None, response_url: str | None, text: str
    ) -> None:
        """An ephemeral message to one person: in the channel, else through response_url."""
        tell(self.slack, user_id, channel_id, response_url, text)

    # --- /govflow ------------------------------------------------------------------------

    def on_command(self, form: Mapping[str, Any], ack: Ack) -> None:
        """`/govflow ooo|status|help`: always an ephemeral answer."""
        now = self.now()
        try:
            command = parse_slash_command({k: v for k, v in form.items() if isinstance(v, str)})
        except PayloadInvalid as exc:
            ack(text=str(exc)[:MAX_REASON], response_type="ephemeral")
            user = form.get("user_id")
            who = user if isinstance(user, str) and len(user) < 40 else "unknown"
            with self._transaction() as session:
                name = str(form.get("command"))[:40]
                commands.refuse_command(session, who, str(exc), name, now)
            return
        if command.kind is SlashKind.HELP:
            ack(text=USAGE, response_type="ephemeral")
            return
        if command.kind is SlashKind.STATUS:
            with self._transaction() as session:
                text = commands.status(session, self.rules, command.jira_key or "")
            ack(text=text, response_type="ephemeral")
            return
        # Both people are resolved before the transaction: a Slack call never holds the lock.
        try:
            person = self.identities.person(command.user_id)
            delegate = self.identities.person(command.delegate_id or "")
        except SlackError as exc:
            reason = f"Slack could not tell who that is ({exc.__class__.__name__}); try again."
            with self._transaction() as session:
                text = commands.refuse_command(session, command.user_id, reason, "ooo", now)
        else:
            with self._transaction() as session:
                text = commands.out_of_office(session, self.rules, command, person, delegate, now)
        ack(text=text, response_type="ephemeral")

    # --- Bolt's error handler ------------------------------------------------------------

    def on_error(self, error: Exception, body: Mapping[str, Any] | None) -> BoltResponse:
        """Anything a handler did not expect: audit it and answer 200 without a traceback."""
        log.error("Slack handler failed", exc_info=error)
        who = "unknown"
        if isinstance(body, Mapping):
            user = body.get("user")
            found = user.get("id") if isinstance(user, Mapping) else body.get("user_id")
            who = found if isinstance(found, str) and len(found) < 40 else who
        try:
            with self._transaction() as session:
                record_audit(
                    session,
                    at=self.now(),
                    actor=who,
                    action="receiver_error",
                    reason=f"{type(error).__name__}: {error}"[:MAX_REASON],
                    detail={
                        "type": str(body.get("type"))[:40] if isinstance(body, Mapping) else ""
                    },
                )
        except Exception as audit_error:
            log.error("could not audit the failure either", exc_info=audit_error)
        # 200 with a text: Slack shows no error dialog, and a slash command shows the text.
        return BoltResponse(
            status=200,
            body=json.dumps(
                {
                    "response_type": "ephemeral",
                    "text": "govflow hit a problem; try again in a minute.",
                }
            ),
            headers={"content-type": "application/json"},
        )


def log_failure(done: Future[None]) -> None:
    """Keep a failed follow-up visible: an executor would drop its exception silently."""
    error = done.exception()
    if error is not None:
        log.error("receiver follow-up failed", exc_info=error)


def _answer_modal(ack: Ack, block_id: str | None, reason: str) -> None:
    """Show a refusal inside the modal, under its first input (or close it and DM)."""
    if block_id is not None:
        ack(response_action="errors", errors={block_id: reason[:MAX_REASON]})
        return
    ack()


def _identity_reason(exc: Exception) -> str:
    """Why a click was refused before its request was checked, worded for the person."""
    if isinstance(exc, NotEntitled):
        return reason_of(exc)
    if isinstance(exc, SlackError):
        return "Slack did not tell govflow who you are just now; try again in a minute."
    return f"govflow could not use this: {exc}"[:MAX_REASON]
