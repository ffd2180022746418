"""The Slack receiver's door: verify, admit, hand to Bolt (DESIGN decision 4).

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
3. Bolt routes it to the listeners govflow registered (`govflow.slack_handlers`), which
   parse it (`integrations.slack.interaction_parsing`), call the use case (`govflow.decisions`,
   `govflow.commands`) and answer (`integrations.slack.answers`).
Bolt runs in HTTP mode behind `SlackEndpoint` or in Socket Mode (`socket_mode_handler`);
the listeners are the same.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import BodyTooLarge, PayloadInvalid, SignatureInvalid
from integrations.follow_ups import FollowUps
from integrations.http_body import receive, refuse_inbound

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Ack = Callable[..., Any]
SIGNATURE_WINDOW_SECONDS = 300
# Slack's payloads are a few kilobytes; a view with every input full stays far below this.
MAX_BODY = 1_000_000
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


class Listeners(Protocol):
    """What Bolt hands an admitted request to (`govflow.slack_handlers.SlackHandlers`).

    The edge knows nothing of what the listeners do: govflow builds them and passes them in,
    as it passes its routes to Starlette.
    """

    def on_block_action(self, body: Mapping[str, Any], ack: Ack) -> None:
        """A button click."""
        ...

    def on_view_submission(self, body: Mapping[str, Any], ack: Ack) -> None:
        """A modal submission."""
        ...

    def on_command(self, form: Mapping[str, Any], ack: Ack) -> None:
        """A slash command."""
        ...

    def on_error(self, error: Exception, body: Mapping[str, Any] | None) -> BoltResponse:
        """Whatever a listener or Bolt itself raised."""
        ...


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


# --- Bolt --------------------------------------------------------------------------------


def build_bolt_app(
    handlers: Listeners,
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


def register(app: App, handlers: Listeners) -> None:
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
        return refuse_inbound(self.sessions, self.now(), status, action, reason, path, remote)


def socket_mode_handler(app: App, app_token: str) -> Any:
    """Bolt's Socket Mode handler for `app` (connect with `.connect()`, stop with `.close()`)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token=app_token)


def utc_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
