"""The Slack receiver: verify, authorize, record, acknowledge (DESIGN decision 4).

What happens to one request from Slack, in order:
0. A body larger than `MAX_BODY` is a 413 and a `payload_refused` record, refused as soon as
   its size is known (`integrations.http_body`), never read whole.
1. `verify_slack_signature` checks `X-Slack-Signature` over the raw body with
   `slack_sdk.signature.SignatureVerifier` (5-minute window, injectable clock) before
   anything reads the body; a forged, missing or stale signature is a 401 and an audit
   record `signature_refused` (path, reason, remote address; never the body). Bolt's own
   verification is off: it would only do the same work twice.
2. `classify_body` admits only what govflow handles (button clicks, modal submissions,
   `/govflow`), with every value Bolt reads type-checked, so no input makes Bolt raise;
   anything else is a 400 and an audit record `payload_refused`.
3. Bolt routes it to `SlackHandlers`, plain methods that parse with
   `integrations.slack.interactions`, resolve the clicker (`identity`), load the request,
   and check the action with the domain (`apply` for events, `authorize` for buttons that
   open a modal) against config and ledger delegations. Refused: nothing is recorded, the
   clicker gets an ephemeral message saying why, and `action_refused` is audited. Allowed:
   the event is recorded under the parser's dedupe key (a redelivered click records
   nothing), `event_received` is audited, the transaction commits, Slack is acknowledged,
   and only then is `advance` triggered. A modal button acknowledges and calls `views.open`
   at once: its trigger_id lives 3 seconds.
Bolt runs in HTTP mode behind `SlackEndpoint` or in Socket Mode (`socket_mode_handler`);
the handlers are the same.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.client import HTTPException
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from config.rules import Rules
from domain.entitlement import (
    Action,
    DelegationLike,
    as_delegations,
    authorize,
    local_date,
    team_label,
)
from domain.errors import (
    BodyTooLarge,
    ConfigError,
    InvalidTransition,
    JiraError,
    NotEntitled,
    PayloadInvalid,
    SignatureInvalid,
    SlackError,
)
from domain.lifecycle import Event, RequestState, apply
from domain.people import Person, roster_member, same_person
from domain.stages import stage_info
from integrations.db.audit import record_audit, record_trigger_failure
from integrations.db.delegations import add_delegation
from integrations.db.events import record_event
from integrations.db.models import RequestRow
from integrations.db.requests import find_request
from integrations.follow_ups import FollowUps
from integrations.http_body import receive
from integrations.slack import modals
from integrations.slack.cards import status_text
from integrations.slack.identity import IdentityResolver, JiraAccounts
from integrations.slack.interactions import (
    USAGE,
    ActionId,
    ButtonClick,
    ModalSubmission,
    SlashCommand,
    SlashKind,
    SubmissionErrors,
    ensure_current,
    event_from_click,
    event_from_submission,
    parse_interaction,
    parse_slash_command,
)
from integrations.slack.port import SlackPort
from integrations.slack.precedents import kept_precedents
from integrations.slack.training import TrainingClick, is_training_click, parse_training_click

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Ack = Callable[..., Any]
SIGNATURE_WINDOW_SECONDS = 300
FOLLOW_UP_WORKERS = 4
# Slack's payloads are a few kilobytes; a view with every input full stays far below this.
MAX_BODY = 1_000_000
# What a refusal's audit record and ephemeral message may quote of a reason.
MAX_REASON = 2000
# An out-of-office longer than a year is a typo, not a sabbatical govflow should honour.
MAX_OOO = timedelta(days=366)
# What the button that opens a modal leads to, for checking before the modal opens.
MODAL_ACTIONS: dict[ActionId, Action] = {
    ActionId.ASSESS: Action.ASSESS,
    ActionId.ASK: Action.ASK,
    ActionId.REJECT: Action.REJECT,
    ActionId.CHANGES: Action.REQUEST_CHANGES,
    ActionId.SOP_EDIT: Action.EDIT_SOP,
    ActionId.SOP_SEND_BACK: Action.SEND_BACK_SOP,
}
# Payload keys Bolt reads while routing, with the JSON type each must have (else dropped).
_BOLT_KEYS: dict[str, tuple[type, ...]] = {
    "authorizations": (list,),
    "enterprise": (dict, str),
    "team": (dict, str),
    "user": (dict, str),
    "channel": (dict, str),
    "container": (dict,),
    "view": (dict,),
    "event": (dict,),
    "message": (dict,),
    "previous_message": (dict,),
    "actions": (list,),
    "is_enterprise_install": (bool, str),
    "is_ext_shared_channel": (bool,),
    "enterprise_id": (str,),
    "team_id": (str,),
    "user_id": (str,),
    "channel_id": (str,),
    "response_url": (str,),
    "trigger_id": (str,),
    "function_data": (dict,),
    "bot_access_token": (str,),
    "assistant_thread": (dict,),
    "callback_id": (str,),
    "command": (str,),
}
_NESTED_IDS = (
    "id",
    "team_id",
    "enterprise_id",
    "app_installed_team_id",
    "callback_id",
    "action_id",
    "block_id",
)


class AdvanceTrigger(Protocol):
    """Called after an answer with the request whose event was recorded.

    In production it does nothing (`govflow.receiver.ledger_only`): the runners' dispatchers
    find the event in the ledger. Tests pass one that applies the events at once.
    """

    def __call__(self, request_id: int) -> None:
        """Hint that the request has new work; the ledger, not this call, is what counts."""
        ...


DelegationSource = Callable[[Session, date], Sequence[DelegationLike]]
SopChoices = Callable[[Session], Sequence[tuple[str, str]]]
# Records a click on a training message for the person; what to tell them (govflow.training).
TrainingRecorder = Callable[[TrainingClick, Person, datetime], str]


# --- signature ---------------------------------------------------------------------------


class _Clock(SignatureClock):
    """slack_sdk's clock interface over any `time.time`-like function."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        """Seconds since the epoch."""
        return self._now()


def verify_slack_signature(
    verifier: SignatureVerifier,
    now: float,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
) -> None:
    """Check Slack's signature and 5-minute window; raise SignatureInvalid naming the reason."""
    if not timestamp or not signature:
        raise SignatureInvalid("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureInvalid("malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        raise SignatureInvalid("stale X-Slack-Request-Timestamp (outside the 5-minute window)")
    if not signature.isascii() or not signature.startswith("v0=") or len(signature) > 100:
        raise SignatureInvalid("malformed X-Slack-Signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureInvalid("the body is not UTF-8, so Slack did not sign it") from exc
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise SignatureInvalid("X-Slack-Signature does not match the body")


# --- what the body is --------------------------------------------------------------------


@dataclass(frozen=True)
class Admitted:
    """A body for Bolt: the sanitized fields, re-encoded as Slack's form."""

    kind: str
    body: str


@dataclass(frozen=True)
class Ignored:
    """A request Slack sends that needs only a 200 (ssl_check, view_closed)."""

    kind: str


def classify_body(body: bytes, content_type: str) -> Admitted | Ignored:
    """Decide what a verified body is; PayloadInvalid when govflow does not handle it."""
    media = content_type.split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise PayloadInvalid(f"govflow receives form posts, not {media[:60] or 'no content type'}")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadInvalid("the body is not a readable form") from exc
    if "payload" in form:
        payload = _payload(form["payload"])
        kind = payload.get("type")
        if kind in ("view_closed", "block_suggestion"):
            return Ignored(kind=str(kind))
        if kind not in ("block_actions", "view_submission"):
            raise PayloadInvalid(f"govflow does not handle {_shown(kind)} interactions")
        clean = sanitize(payload)
        _routable(clean)
        if clean == payload:
            # Slack's own payloads come through untouched: no need to encode them again.
            return Admitted(kind=str(kind), body=body.decode("utf-8"))
        # ASCII with escapes: a lone surrogate ("\ud800" in the JSON) stays an escape instead
        # of making the form encoding raise (a 500) for want of a UTF-8 form of it.
        text = json.dumps(clean, separators=(",", ":"))
        return Admitted(kind=str(kind), body=urlencode({"payload": text}))
    if form.get("ssl_check") == "1":
        return Ignored(kind="ssl_check")
    if isinstance(form.get("command"), str) and form["command"].startswith("/"):
        return Admitted(kind="slash_command", body=urlencode(sanitize(form)))
    raise PayloadInvalid("the form is neither an interaction payload nor a slash command")


def _routable(payload: Mapping[str, Any]) -> None:
    """What Bolt indexes without checking to route an interaction must be there."""
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        if not isinstance(first, dict) or not isinstance(first.get("action_id"), str):
            raise PayloadInvalid("a block_actions payload names its action in actions[0]")
    else:
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("callback_id"), str):
            raise PayloadInvalid("a view_submission payload carries its view and callback_id")


def _payload(raw: str) -> dict[str, Any]:
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PayloadInvalid("the interaction payload is not JSON") from exc
    if not isinstance(decoded, dict):
        raise PayloadInvalid("the interaction payload is not a JSON object")
    return decoded


def sanitize(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with every key Bolt reads dropped unless it has the type Slack gives it."""
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        expected = _BOLT_KEYS.get(key)
        if expected is not None and not isinstance(value, expected):
            continue
        if isinstance(value, dict):
            value = _string_ids(value)
        if key in ("authorizations", "actions"):
            value = [_string_ids(item) for item in value if isinstance(item, dict)]
            if not value:
                continue
        clean[key] = value
    return clean


def _string_ids(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an object without identifier keys that are not strings."""
    return {k: v for k, v in value.items() if k not in _NESTED_IDS or isinstance(v, str | None)}


def _shown(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else "untyped"


# --- outcomes of checking an interaction --------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """The interaction may not happen; `reason` is shown to the person as is."""

    reason: str
    request_id: int | None = None


@dataclass(frozen=True)
class Recorded:
    """The event was recorded (`new` False: a redelivery, nothing recorded this time)."""

    request_id: int
    new: bool


@dataclass(frozen=True)
class OpenModal:
    """The button opens a modal; the view to open."""

    request_id: int
    view: Any


Outcome = Refused | Recorded | OpenModal


# --- the handlers ------------------------------------------------------------------------


class SlackHandlers:
    """What govflow does with a click, a modal submission and `/govflow`; Bolt-free logic."""

    def __init__(
        self,
        *,
        rules: Rules,
        sessions: sessionmaker[Session],
        slack: SlackPort,
        identities: IdentityResolver,
        jira_accounts: JiraAccounts,
        delegations: DelegationSource,
        sop_choices: SopChoices,
        advance: AdvanceTrigger,
        now: Clock,
        after: Executor | None = None,
        training: TrainingRecorder | None = None,
    ) -> None:
        self.rules = rules
        self.sessions = sessions
        self.slack = slack
        self.identities = identities
        self.jira_accounts = jira_accounts
        self.delegations = delegations
        self.sop_choices = sop_choices
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
            self._audit_refusal(click.jira_key, click.user_id, reason, detail, now)
            ack()
            self._later(self._tell, click.user_id, click.channel_id, click.response_url, reason)
            return
        outcome = self._check_click(click, actor, event, now, requester)
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

    def _check_click(
        self,
        click: ButtonClick,
        actor: Person,
        event: Event | None,
        now: datetime,
        requester: Person | None,
    ) -> Outcome:
        with self._transaction() as session:
            found = self._request(session, click.jira_key, requester)
            if isinstance(found, Refused):
                return self._refused(session, found, actor, click, now)
            row, state = found
            try:
                ensure_current(click, state)
                if event is None:
                    self._authorize_modal(session, click, actor, state, now)
                    view = self._modal(session, click, state, row.facts)
                    return OpenModal(request_id=row.id, view=view)
                self._precheck(session, state, event, now)
            except (InvalidTransition, NotEntitled, ValueError) as refusal:
                reason = Refused(_reason(refusal), request_id=row.id)
                return self._refused(session, reason, actor, click, now)
            return self._record(session, row, event, actor, click.dedupe_key, now)

    def _follow_up(self, click: ButtonClick, outcome: Outcome) -> None:
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
            done = _confirmation(click.action, click.jira_key)
            self._tell(click.user_id, click.channel_id, click.response_url, done)

    def _authorize_modal(
        self,
        session: Session,
        click: ButtonClick,
        actor: Person,
        state: RequestState,
        now: datetime,
    ) -> None:
        """Whether the person may do what the modal is for, before showing it."""
        action = MODAL_ACTIONS[click.action]
        team = click.team if action in (Action.REJECT, Action.REQUEST_CHANGES) else None
        on = local_date(self.rules, team or state.expert_team, now)
        authorize(
            actor,
            action,
            state,
            self.rules,
            on,
            delegations=self.delegations(session, on),
            team=team,
        )

    def _modal(
        self,
        session: Session,
        click: ButtonClick,
        state: RequestState,
        facts: Mapping[str, Any] | None = None,
    ) -> Any:
        """The modal a button opens, about the request as the ledger has it now."""
        facts = dict(facts or {})
        view = modals.modal_for_click(
            click,
            sop_choices=self.sop_choices(session) if click.action is ActionId.ASSESS else (),
            initial=state.assessment,
            team_name=team_label(self.rules, click.team) if click.team else None,
            state=state,
            precedents=kept_precedents(facts),
            jira_url=str(facts.get("jira_url", "")),
        )
        if view is None:
            raise ValueError(f"{click.action} opens no form")
        return view

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
            self._audit_refusal(sub.jira_key, sub.user_id, reason, detail, now)
            self._answer_modal(ack, first_input, reason)
            return
        outcome = self._check_submission(sub, actor, event, now, requester)
        if isinstance(outcome, Refused):
            self._answer_modal(ack, first_input, outcome.reason)
            return
        ack()
        if isinstance(outcome, Recorded) and outcome.new:
            self._later(self._after_submission, sub, outcome.request_id)

    def _after_submission(self, sub: ModalSubmission, request_id: int) -> None:
        """After the modal closed: start `advance`, confirm in the card's channel."""
        self._trigger(request_id)
        if sub.channel_id:
            done = _confirmation(sub.callback, sub.jira_key)
            self._tell(sub.user_id, sub.channel_id, None, done)

    def _check_submission(
        self,
        sub: ModalSubmission,
        actor: Person,
        event: Event,
        now: datetime,
        requester: Person | None,
    ) -> Outcome:
        with self._transaction() as session:
            found = self._request(session, sub.jira_key, requester)
            if isinstance(found, Refused):
                return self._refused(session, found, actor, sub, now)
            row, state = found
            try:
                ensure_current(sub, state)
                self._precheck(session, state, event, now)
            except (InvalidTransition, NotEntitled, ValueError) as refusal:
                reason = Refused(_reason(refusal), request_id=row.id)
                return self._refused(session, reason, actor, sub, now)
            return self._record(session, row, event, actor, sub.dedupe_key, now)

    def _answer_modal(self, ack: Ack, block_id: str | None, reason: str) -> None:
        """Show a refusal inside the modal, under its first input (or close it and DM)."""
        if block_id is not None:
            ack(response_action="errors", errors={block_id: reason[:MAX_REASON]})
            return
        ack()

    # --- shared steps --------------------------------------------------------------------

    def _request(
        self, session: Session, jira_key: str, requester: Person | None = None
    ) -> tuple[RequestRow, RequestState] | Refused:
        """The request's row and state; with `requester`, the requester as the click taught."""
        row = find_request(session, jira_key)
        if row is None:
            return Refused(f"govflow has no request {jira_key}")
        if row.state is None:
            return Refused(f"{jira_key} has not been routed to reviewers yet", request_id=row.id)
        state = RequestState.model_validate(row.state)
        if requester is not None:
            state = state.model_copy(update={"requester": requester})
        return row, state

    def _against_requester(
        self, jira_key: str, actor: Person, now: datetime
    ) -> tuple[Person, Person | None]:
        """The actor with their Jira account, and the requester as learned; NotEntitled if unsure.

        Only for a requester Jira knows by account id alone (email hidden): the actor's email
        is looked up in Jira (`user/search`, cached), so the actor recorded in the event carries
        the requester's account id when it is theirs and `same_person` sees it, here and in
        `advance`. So does every away member the actor stands in for: a match teaches the
        requester's email, which takes them off the rosters, so nobody acts in their name.
        Returns the requester to check against when a lookup taught something, else None.
        """
        with self._transaction() as session:
            row = find_request(session, jira_key)
            if row is None or row.state is None:
                return actor, None
            state = RequestState.model_validate(row.state)
            filed = row.created_at
            on = local_date(self.rules, state.expert_team, now)
            away = [
                d.approver
                for d in as_delegations(self.delegations(session, on))
                if same_person(d.delegate, actor)
            ]
        requester = state.requester
        account = requester.jira_account_id
        known = requester.email is not None or requester.slack_id is not None
        # "unknown:KEY" stands for a ticket without a reporter: no account to compare with.
        if known or account is None or account.startswith("unknown:"):
            return actor, None
        unsure = f"govflow could not confirm you did not file {jira_key}"
        if actor.email is None:
            raise NotEntitled(f"{unsure}: your Slack profile shows no email to match with Jira")
        ids = self._accounts(actor.email, filed, unsure)
        learned = None
        if account in ids:
            learned = Person(
                jira_account_id=account,
                email=actor.email,
                slack_id=actor.slack_id,
                name=requester.name,
            )
        if ids and actor.jira_account_id is None:
            mine = account if account in ids else ids[0]
            actor = actor.model_copy(update={"jira_account_id": mine})
        for member in away:
            email = member.email or self._email_of(member.slack_id, unsure)
            if learned is None and email and account in self._accounts(email, filed, unsure):
                learned = Person(
                    jira_account_id=account,
                    email=email,
                    slack_id=member.slack_id,
                    name=requester.name,
                )
        return actor, learned

    def _accounts(self, email: str, filed: datetime, unsure: str) -> list[str]:
        """The Jira accounts of `email`; NotEntitled when Jira cannot say."""
        try:
            return self.jira_accounts.account_ids(email, since=filed)
        except (JiraError, ConfigError) as exc:
            log.warning("Jira user search failed: %s", exc)
            raise NotEntitled(f"{unsure}; try again in a minute") from exc

    def _email_of(self, slack_id: str | None, unsure: str) -> str | None:
        """The email of a roster member named by Slack id; NotEntitled when Slack cannot say."""
        if slack_id is None:
            return None
        try:
            return self.identities.email(slack_id)
        except SlackError as exc:
            raise NotEntitled(f"{unsure}; try again in a minute") from exc

    def _precheck(self, session: Session, state: RequestState, event: Event, now: datetime) -> None:
        """Refuse now what `advance` would refuse: the domain's rules on the current state."""
        team = getattr(event, "team", None) or state.expert_team
        on = local_date(self.rules, team, event.at)
        apply(state, event, self.rules, self.delegations(session, on), now)

    def _record(
        self,
        session: Session,
        row: RequestRow,
        event: Event,
        actor: Person,
        dedupe_key: str,
        now: datetime,
    ) -> Recorded:
        new = record_event(
            session,
            request_id=row.id,
            kind=event.kind,
            actor=_who(actor),
            payload=event.model_dump(mode="json"),
            dedupe_key=dedupe_key,
            now=now,
        )
        if new:
            record_audit(
                session,
                at=now,
                actor=_who(actor),
                action="event_received",
                request_id=row.id,
                detail={"kind": event.kind, "dedupe_key": dedupe_key, "via": "slack"},
            )
        return Recorded(request_id=row.id, new=new)

    def _refused(
        self,
        session: Session,
        refusal: Refused,
        actor: Person,
        interaction: ButtonClick | ModalSubmission,
        now: datetime,
    ) -> Refused:
        action = (
            interaction.action if isinstance(interaction, ButtonClick) else interaction.callback
        )
        record_audit(
            session,
            at=now,
            actor=_who(actor),
            action="action_refused",
            request_id=refusal.request_id,
            reason=refusal.reason[:MAX_REASON],
            detail={
                "action": action.value,
                "jira_key": interaction.jira_key,
                "team": interaction.team,
            },
        )
        return refusal

    def _audit_refusal(
        self, jira_key: str, actor: str, reason: str, detail: dict[str, Any], now: datetime
    ) -> None:
        """Audit a refusal made before the request was checked (on it, when govflow has it)."""
        with self._transaction() as session:
            row = find_request(session, jira_key)
            record_audit(
                session,
                at=now,
                actor=actor,
                action="action_refused",
                request_id=row.id if row is not None else None,
                reason=reason[:MAX_REASON],
                detail=detail,
            )

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
            self._respond(response_url, f"govflow could not use this: {reason}")

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
        if channel_id:
            try:
                self.slack.post_ephemeral(channel_id, user_id, text[:MAX_REASON])
                return
            except SlackError as exc:
                if response_url is None:
                    log.warning("could not tell %s in %s: %s", user_id, channel_id, exc)
                    return
        if response_url:
            self._respond(response_url, text)

    def _respond(self, response_url: str, text: str) -> None:
        try:
            answer = WebhookClient(response_url, timeout=5).send(
                text=text[:MAX_REASON], response_type="ephemeral", replace_original=False
            )
        except (OSError, HTTPException, ValueError) as exc:
            log.warning("response_url post failed: %r", exc)
            return
        if answer.status_code != 200:
            log.warning("response_url answered %s: %s", answer.status_code, answer.body[:200])

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
                record_audit(
                    session,
                    at=now,
                    actor=who,
                    action="command_refused",
                    reason=str(exc)[:MAX_REASON],
                    detail={"command": str(form.get("command"))[:40]},
                )
            return
        if command.kind is SlashKind.HELP:
            ack(text=USAGE, response_type="ephemeral")
        elif command.kind is SlashKind.STATUS:
            ack(text=self._status(command), response_type="ephemeral")
        else:
            ack(text=self._out_of_office(command, now), response_type="ephemeral")

    def _status(self, command: SlashCommand) -> str:
        """Where a request stands and who holds it, in one short message."""
        key = command.jira_key or ""
        with self._transaction() as session:
            row = find_request(session, key)
            if row is None:
                return f"govflow has no request {key}."
            if row.state is None:
                return f"*{key}* is {_stage_words(row.stage)}: it has not been routed yet."
            state = RequestState.model_validate(row.state)
        return f"*{key}* is {_stage_words(state.stage.value)}. {self._holder(state)}"

    def _holder(self, state: RequestState) -> str:
        return status_text(state, self.rules)

    def _out_of_office(self, command: SlashCommand, now: datetime) -> str:
        """Record `/govflow ooo` after checking who asks and the dates; the answer either way."""
        issuer = command.user_id
        try:
            person = self.identities.person(issuer)
            delegate = self.identities.person(command.delegate_id or "")
        except SlackError as exc:
            return self._ooo_refused(
                issuer,
                f"Slack could not tell who that is ({exc.__class__.__name__}); try again.",
                now,
            )
        entries = {
            entry: team
            for team, found in self.rules.teams.items()
            if (entry := roster_member(person, found.roster)) is not None
        }
        if not entries:
            return self._ooo_refused(
                issuer, "You are on no govflow roster, so nobody needs to stand in for you.", now
            )
        first_team = next(iter(entries.values()))
        today = local_date(self.rules, first_team, now)
        start = command.start or today
        until = command.until or today
        problem = _ooo_dates(start, until, today)
        if problem:
            return self._ooo_refused(issuer, problem, now)
        with self._transaction() as session:
            for entry in entries:
                add_delegation(
                    session,
                    approver=entry,
                    delegate=delegate.slack_id or "",
                    start=start,
                    until=until,
                    created_by=issuer,
                    now=now,
                )
            record_audit(
                session,
                at=now,
                actor=_who(person),
                action="delegation_added",
                reason=f"{issuer} away {start.isoformat()}..{until.isoformat()}",
                detail={
                    "approver": list(entries),
                    "delegate": delegate.slack_id,
                    "start": start.isoformat(),
                    "until": until.isoformat(),
                    "teams": sorted(set(entries.values())),
                },
            )
        teams = ", ".join(sorted({team_label(self.rules, t) for t in entries.values()}))
        return (
            f"Recorded: <@{delegate.slack_id}> decides for you ({teams}) from "
            f"{start.isoformat()} until {until.isoformat()} inclusive."
        )

    def _ooo_refused(self, issuer: str, reason: str, now: datetime) -> str:
        with self._transaction() as session:
            record_audit(
                session,
                at=now,
                actor=issuer,
                action="command_refused",
                reason=reason[:MAX_REASON],
                detail={"command": "ooo"},
            )
        return reason

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


_DONE: dict[ActionId, str] = {
    ActionId.CLAIM: "Your claim",
    ActionId.ASSESS: "Your assessment",
    ActionId.ASK: "Your question to the requester",
    ActionId.APPROVE: "Your approval",
    ActionId.APPROVE_FOR: "Your approval on behalf of your colleague",
    ActionId.REJECT: "Your rejection",
    ActionId.CHANGES: "Your request for changes",
    ActionId.SOP_PUBLISH: "Your publication",
    ActionId.SOP_EDIT: "Your edit of the draft",
    ActionId.SOP_SEND_BACK: "Sending the SOP update back",
}


def _confirmation(action: ActionId, jira_key: str) -> str:
    """The ephemeral telling someone their click or form was recorded."""
    return f"{_DONE.get(action, 'Your action')} on {jira_key} is recorded."


def log_failure(done: Future[None]) -> None:
    """Keep a failed follow-up visible: an executor would drop its exception silently."""
    error = done.exception()
    if error is not None:
        log.error("receiver follow-up failed", exc_info=error)


def _who(person: Person) -> str:
    """The audit actor: the email where known, else an id."""
    return person.email or person.slack_id or person.jira_account_id or "unknown"


def _stage_words(stage: str) -> str:
    info = stage_info(stage)
    return info.words if info is not None else stage


def _reason(refusal: Exception) -> str:
    return str(refusal)[:MAX_REASON] or type(refusal).__name__


def _identity_reason(exc: Exception) -> str:
    if isinstance(exc, NotEntitled):
        return _reason(exc)
    if isinstance(exc, SlackError):
        return "Slack did not tell govflow who you are just now; try again in a minute."
    return f"govflow could not use this: {exc}"[:MAX_REASON]


def _ooo_dates(start: date, until: date, today: date) -> str | None:
    """What is wrong with an out-of-office period, worded for the person, if anything."""
    if until < today:
        return f"{until.isoformat()} has passed; name the last day you are away."
    if until < start:
        return f"{until.isoformat()} is before {start.isoformat()}."
    if until - start > MAX_OOO:
        return "That is longer than a year; name the last day of this absence."
    if start - today > MAX_OOO:
        return "That starts more than a year from now; record it nearer the time."
    return None


# --- Bolt --------------------------------------------------------------------------------


def build_bolt_app(
    handlers: SlackHandlers,
    *,
    bot_token: str,
    api_url: str,
    workers: int = 4,
) -> App:
    """The Bolt app routing clicks, submissions and `/govflow` to `handlers`.

    Verification is off (done before Bolt); authorization answers from the configured token
    without calling Slack, so the first click pays no `auth.test` round trip. Listeners run
    in the request's own thread and return right after their ack (`process_before_response`),
    handing follow-ups to the handlers' executor: Bolt's default would run them on a pool of
    five and make the request thread poll for the ack every 10 ms.
    """

    def _authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    app = App(
        # No token here: `_authorize` hands Bolt the token per request.
        client=WebClient(base_url=api_url),
        authorize=_authorize,
        request_verification_enabled=False,
        token_verification_enabled=False,
        ignoring_self_events_enabled=False,
        url_verification_enabled=False,
        ssl_check_enabled=False,
        attaching_function_token_enabled=False,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-lazy"),
        logger=log,
    )
    register(app, handlers)
    return app


def register(app: App, handlers: SlackHandlers) -> None:
    """Wire the handlers into Bolt (Bolt injects listener arguments by name)."""
    everything = re.compile(".*", re.DOTALL)

    def on_action(ack: Ack, body: dict[str, Any]) -> None:
        """Any button click."""
        handlers.on_block_action(body, ack)

    def on_view(ack: Ack, body: dict[str, Any]) -> None:
        """Any modal submission."""
        handlers.on_view_submission(body, ack)

    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        """Any slash command."""
        handlers.on_command(body, ack)

    def on_error(error: Exception, body: dict[str, Any] | None) -> BoltResponse:
        """Whatever a listener or Bolt itself raised."""
        return handlers.on_error(error, body)

    app.action(everything)(on_action)
    app.view({"type": "view_submission", "callback_id": everything})(on_view)
    app.command(everything)(on_command)
    app.error(on_error)


# --- HTTP --------------------------------------------------------------------------------


class SlackEndpoint:
    """POST /slack/events: verify, admit, dispatch to Bolt; never a 500 or a traceback."""

    def __init__(
        self,
        app: App,
        *,
        signing_secret: str | None,
        sessions: sessionmaker[Session],
        now: Clock,
        wall_clock: Callable[[], float],
        in_threadpool: bool = True,
        follow_ups: FollowUps | None = None,
    ) -> None:
        self.app = app
        # Counts this request as being answered, so follow-ups yield to it.
        self.follow_ups = follow_ups
        # Without a secret nothing can be verified, so everything is refused.
        self.verifier = (
            SignatureVerifier(signing_secret, clock=_Clock(wall_clock)) if signing_secret else None
        )
        self.sessions = sessions
        self.now = now
        self.wall_clock = wall_clock
        self.in_threadpool = in_threadpool

    async def endpoint(self, request: Request) -> Response:
        """Read the body, then do the (blocking) work in a worker thread."""
        if self.follow_ups is None:
            return await self._answer(request)
        with self.follow_ups.answering():
            return await self._answer(request)

    async def _answer(self, request: Request) -> Response:
        inbound = await receive(request, MAX_BODY)
        if self.in_threadpool:
            return await run_in_threadpool(self.handle, *inbound)
        return self.handle(*inbound)

    def handle(
        self, body: bytes | None, headers: Mapping[str, str], remote: str, path: str
    ) -> Response:
        """One request: 413 too large (None), 401 forged, 400 unreadable, else Bolt's answer."""
        if body is None or len(body) > MAX_BODY:
            reason = str(BodyTooLarge(MAX_BODY))
            return self._refuse(413, "payload_refused", reason, path, remote)
        if self.verifier is None:
            reason = "the receiver has no Slack signing secret"
            return self._refuse(401, "signature_refused", reason, path, remote)
        try:
            verify_slack_signature(
                self.verifier,
                self.wall_clock(),
                body,
                headers.get("x-slack-request-timestamp"),
                headers.get("x-slack-signature"),
            )
        except SignatureInvalid as exc:
            return self._refuse(401, "signature_refused", str(exc), path, remote)
        try:
            admitted = classify_body(body, headers.get("content-type", ""))
        except PayloadInvalid as exc:
            return self._refuse(400, "payload_refused", str(exc), path, remote)
        if isinstance(admitted, Ignored):
            return Response(status_code=200)
        bolt_headers: dict[str, str | Sequence[str]] = {
            "content-type": "application/x-www-form-urlencoded",
            **{k: v for k, v in headers.items() if k.startswith("x-slack-")},
        }
        answer = self.app.dispatch(BoltRequest(body=admitted.body, headers=bolt_headers))
        if answer.status >= 500:
            # Bolt's own catch-all answered; say 400 rather than leave Slack a 500.
            return self._refuse(
                400, "payload_refused", f"Bolt answered {answer.status}", path, remote
            )
        return to_starlette_response(answer)

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


def socket_mode_handler(app: App, app_token: str) -> Any:
    """Bolt's Socket Mode handler for `app` (connect with `.connect()`, stop with `.close()`)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token=app_token)


def utc_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
