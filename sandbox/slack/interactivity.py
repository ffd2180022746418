"""The stand-in as Slack's side of interactivity: people click, submit modals and type commands.

Slack delivers what a person does in its client to the app's Request URL as a signed form
post (`payload=<JSON>` for clicks and view submissions, plain fields for slash commands),
or over a Socket Mode connection when the app has one. This module builds those deliveries
from the stand-in's own state, exactly as Slack would:
- a click is built from the stored message's actual button (its `block_id`, `action_id`,
  `value`), with `container`, `message`, a fresh `trigger_id` (3 s, once) and a
  `response_url` the stand-in serves (at most 5 posts within 30 minutes);
- a view submission is built from a view the app opened through `views.open`, its
  `state.values` keyed by the view's own `block_id`/`action_id` in the shape of each element;
- every HTTP delivery is signed (`X-Slack-Signature`, `X-Slack-Request-Timestamp`) with the
  configured signing secret; tests may make it stale, sign it with a wrong secret, or send
  the identical body again as one of Slack's retries (`X-Slack-Retry-Num`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from sandbox.slack.methods import render_message, render_view
from sandbox.slack.state import Message, SlackWorkspace, User

# Slack gives the app 3 seconds to answer an interaction.
ACK_TIMEOUT_SECONDS = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
API_APP_ID = "A0GF00001"
# The legacy verification token Slack still puts in every payload.
VERIFICATION_TOKEN = "sandboxverificationtoken0"
SELECTS = {
    "static_select": "selected_option",
    "radio_buttons": "selected_option",
    "external_select": "selected_option",
}
MULTI_SELECTS = {
    "multi_static_select": "selected_options",
    "checkboxes": "selected_options",
    "multi_external_select": "selected_options",
}


@dataclass(frozen=True)
class Delivery:
    """One interaction sent to the app, and how the app answered it.

    `status` is the HTTP status (for Socket Mode: 200 once acknowledged); None means no
    answer came within Slack's 3 seconds. `body` is the answer's text (for Socket Mode the
    ack's `payload` as JSON). `raw` is exactly what was sent, so it can be sent again.
    """

    kind: str
    transport: str
    status: int | None
    body: str
    elapsed: float
    payload: dict[str, Any]
    raw: str
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def json(self) -> Any:
        """The answer's body as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        """Rebuild from `to_json` output."""
        return cls(**dict(data))


@dataclass(frozen=True)
class ResponsePost:
    """One post the app made to a `response_url`, and what the stand-in answered."""

    url_id: str
    channel: str | None
    user: str
    body: dict[str, Any]
    status: int
    answer: str
    at: float

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)


@dataclass
class _ResponseUrl:
    id: str
    token: str
    channel: str | None
    user: str
    message_ts: str | None
    issued_at: float
    uses: int = 0


class SocketTransport(Protocol):
    """Where deliveries go when the app listens over Socket Mode instead of HTTP."""

    def connected(self) -> bool:
        """Whether an app connection is open."""
        ...

    def deliver(self, kind: str, envelope_type: str, payload: dict[str, Any]) -> Delivery:
        """Send one envelope and wait for its ack."""
        ...


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's `v0=` signature of a request body."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Interactivity:
    """Builds and delivers clicks, view submissions and slash commands; serves response_urls."""

    def __init__(self, workspace: SlackWorkspace, *, timeout: float = ACK_TIMEOUT_SECONDS):
        self.workspace = workspace
        self.timeout = timeout
        self.public_url = ""
        self.receiver_url: str | None = None
        self.signing_secret = ""
        self.socket: SocketTransport | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._response_posts: list[ResponsePost] = []
        self._deliveries: list[Delivery] = []
        self._http: httpx.Client | None = None

    # --- configuration -----------------------------------------------------------------

    def configure(self, url: str | None, signing_secret: str) -> None:
        """Send interactions to `url` signed with `signing_secret` (None: Socket Mode only)."""
        with self._lock:
            self.receiver_url = url
            self.signing_secret = signing_secret

    def close(self) -> None:
        """Close the HTTP client used for deliveries."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def forget(self) -> None:
        """Drop response URLs, their posts and the delivery log (configuration stays)."""
        with self._lock:
            self._response_urls.clear()
            self._response_posts.clear()
            self._deliveries.clear()

    # --- what people do ----------------------------------------------------------------

    def click(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        user: str,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` clicks the button `action_id` (with `value`, if several) on a stored message."""
        payload = self.block_actions_payload(channel, message_ts, action_id, user, value=value)
        return self._interactive("block_actions", payload, timestamp, signing_secret)

    def submit_view(
        self,
        view_id: str,
        user: str,
        values: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` submits an open modal with `values` by block_id (str, option value or list)."""
        payload = self.view_submission_payload(view_id, user, values)
        return self._interactive("view_submission", payload, timestamp, signing_secret)

    def slash(
        self,
        user: str,
        text: str,
        *,
        channel: str | None = None,
        command: str = "/govflow",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` types `command text` in `channel` (default: the first channel they are in)."""
        fields = self.slash_fields(user, text, channel=channel, command=command)
        if self._use_socket():
            assert self.socket is not None
            return self._logged(self.socket.deliver("slash_command", "slash_commands", fields))
        body = urlencode(fields)
        return self._post("slash_command", fields, body, timestamp, signing_secret)

    def deliver_raw(
        self,
        body: str | bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        signed: bool = True,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        """POST any body to the app, correctly signed unless told otherwise (fuzzing)."""
        text = body.decode("utf-8", errors="surrogateescape") if isinstance(body, bytes) else body
        return self._post(
            "raw",
            {},
            text,
            timestamp,
            signing_secret,
            content_type=content_type,
            signed=signed,
            extra=headers,
            raw_bytes=body if isinstance(body, bytes) else None,
        )

    def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Send the identical body again, as Slack's retry `retry_num` (freshly signed)."""
        if delivery.transport != "http":
            raise ValueError("only HTTP deliveries are retried by Slack")
        return self._post(
            delivery.kind,
            delivery.payload,
            delivery.raw,
            None,
            None,
            content_type=delivery.content_type,
            extra={"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason},
        )

    # --- payloads ----------------------------------------------------------------------

    def block_actions_payload(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        user: str,
        *,
        value: str | None = None,
    ) -> dict[str, Any]:
        """The `block_actions` payload Slack sends when `user` clicks that button."""
        ws = self.workspace
        clicker = ws.user(user)
        message = ws.message(channel, message_ts)
        block_id, element = _find_button(message, action_id, value)
        conversation = ws.channel(message.channel)
        now = ws.clock()
        response_url = self._issue_response_url(message.channel, user, message.ts)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "text": element.get("text", {"type": "plain_text", "text": action_id}),
            "type": element.get("type", "button"),
            "action_ts": f"{now:.6f}",
        }
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
        rendered = render_message(ws, message, with_metadata=False)
        rendered["blocks"] = _with_block_ids(message.blocks or [], message.ts)
        return {
            "type": "block_actions",
            "user": _user_ref(ws, clicker),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": False,
                **({"thread_ts": message.thread_ts} if message.is_reply else {}),
            },
            "trigger_id": ws.issue_trigger(user),
            "team": {"id": ws.team.id, "domain": ws.team.domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": conversation.id, "name": conversation.name},
            "message": rendered,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }

    def view_submission_payload(
        self, view_id: str, user: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The `view_submission` payload Slack sends when `user` submits the open view."""
        ws = self.workspace
        view = next((v for v in ws.views(user=user) if v.id == view_id), None)
        if view is None:
            raise KeyError(f"view {view_id} is not open for {user}")
        rendered = render_view(ws, view)
        rendered["blocks"] = _with_block_ids(view.payload.get("blocks", []), view.id)
        rendered["state"] = {"values": _state_values(rendered["blocks"], values)}
        return {
            "type": "view_submission",
            "team": {"id": ws.team.id, "domain": ws.team.domain},
            "user": _user_ref(ws, ws.user(user)),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": ws.issue_trigger(user),
            "view": rendered,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def slash_fields(
        self, user: str, text: str, *, channel: str | None = None, command: str = "/govflow"
    ) -> dict[str, str]:
        """The form fields Slack posts for a slash command typed by `user`."""
        ws = self.workspace
        person = ws.user(user)
        where = ws.channel(channel) if channel else _first_channel_of(ws, user)
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team.id,
            "team_domain": ws.team.domain,
            "channel_id": where.id,
            "channel_name": where.name,
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._issue_response_url(where.id, user, None),
            "trigger_id": ws.issue_trigger(user),
        }

    # --- response_url ------------------------------------------------------------------

    def _issue_response_url(self, channel: str | None, user: str, message_ts: str | None) -> str:
        with self._lock:
            url_id = str(next(self._ids))
            token = secrets.token_urlsafe(18)
            self._response_urls[token] = _ResponseUrl(
                id=url_id,
                token=token,
                channel=channel,
                user=user,
                message_ts=message_ts,
                issued_at=self.workspace.clock(),
            )
        return f"{self.public_url}/actions/{self.workspace.team.id}/{url_id}/{token}"

    def respond(self, token: str, body: Any) -> tuple[int, str]:
        """Handle a post to a response_url: (HTTP status, body) as hooks.slack.com answers."""
        with self._lock:
            entry = self._response_urls.get(token)
            now = self.workspace.clock()
            data = body if isinstance(body, dict) else {}
            if entry is None:
                return 404, "invalid_token"
            if now - entry.issued_at > RESPONSE_URL_TTL_SECONDS:
                status, answer = 404, "expired_url"
            elif entry.uses >= RESPONSE_URL_USES:
                status, answer = 404, "used_url"
            elif not isinstance(body, dict) or not (
                data.get("text") or data.get("blocks") or data.get("delete_original")
            ):
                status, answer = 400, "no_text"
            else:
                entry.uses += 1
                status, answer = 200, "ok"
            self._response_posts.append(
                ResponsePost(
                    url_id=entry.id,
                    channel=entry.channel,
                    user=entry.user,
                    body=data,
                    status=status,
                    answer=answer,
                    at=now,
                )
            )
        if status == 200:
            self._show(entry, data)
        return status, answer

    def _show(self, entry: _ResponseUrl, data: dict[str, Any]) -> None:
        """Make a response visible as Slack would: replace, delete, in channel or ephemeral."""
        ws = self.workspace
        text = str(data.get("text") or "")
        blocks = data.get("blocks") if isinstance(data.get("blocks"), list) else None
        if entry.channel is None:
            return
        bot = _bot(ws)
        if data.get("replace_original") and entry.message_ts:
            ws.replace_message(entry.channel, entry.message_ts, text=text, blocks=blocks)
        elif data.get("delete_original") and entry.message_ts:
            ws.replace_message(entry.channel, entry.message_ts, text="", blocks=None)
        elif data.get("response_type") == "in_channel":
            ws.post(bot, entry.channel, text=text, blocks=blocks)
        else:
            ws.record_ephemeral(entry.channel, entry.user, text=text, blocks=blocks, poster=bot.id)

    def response_posts(self, *, user: str | None = None) -> list[ResponsePost]:
        """Posts made to response URLs, optionally only those answering `user`."""
        with self._lock:
            return [p for p in self._response_posts if user in (None, p.user)]

    def deliveries(self) -> list[Delivery]:
        """Every delivery made so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    # --- sending -----------------------------------------------------------------------

    def _use_socket(self) -> bool:
        return self.receiver_url is None and self.socket is not None and self.socket.connected()

    def _interactive(
        self,
        kind: str,
        payload: dict[str, Any],
        timestamp: int | None,
        signing_secret: str | None,
    ) -> Delivery:
        if self._use_socket():
            assert self.socket is not None
            return self._logged(self.socket.deliver(kind, "interactive", payload))
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return self._post(kind, payload, body, timestamp, signing_secret)

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
                self._http = httpx.Client(timeout=self.timeout, limits=limits)
            return self._http

    def _post(
        self,
        kind: str,
        payload: dict[str, Any],
        body: str,
        timestamp: int | None,
        signing_secret: str | None,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        signed: bool = True,
        extra: Mapping[str, str] | None = None,
        raw_bytes: bytes | None = None,
    ) -> Delivery:
        url = self.receiver_url
        if not url:
            raise RuntimeError("no receiver configured: call configure(url, signing_secret)")
        stamp = str(int(self.workspace.clock()) if timestamp is None else timestamp)
        secret = self.signing_secret if signing_secret is None else signing_secret
        content = raw_bytes if raw_bytes is not None else body.encode("utf-8", "surrogateescape")
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if signed:
            digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + content, hashlib.sha256)
            headers["X-Slack-Request-Timestamp"] = stamp
            headers["X-Slack-Signature"] = "v0=" + digest.hexdigest()
        headers.update(extra or {})
        started = time.perf_counter()
        try:
            response = self._client().post(url, content=content, headers=headers)
        except httpx.TimeoutException:
            return self._logged(
                Delivery(
                    kind,
                    "http",
                    None,
                    "",
                    time.perf_counter() - started,
                    payload,
                    body,
                    content_type,
                    error="timeout",
                )
            )
        except httpx.TransportError as exc:
            return self._logged(
                Delivery(
                    kind,
                    "http",
                    None,
                    "",
                    time.perf_counter() - started,
                    payload,
                    body,
                    content_type,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
        return self._logged(
            Delivery(
                kind=kind,
                transport="http",
                status=response.status_code,
                body=response.text,
                elapsed=time.perf_counter() - started,
                payload=payload,
                raw=body,
                content_type=content_type,
                headers=dict(response.headers),
            )
        )

    def _logged(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self._deliveries.append(delivery)
        return delivery


# --- helpers ---------------------------------------------------------------------------


def _user_ref(ws: SlackWorkspace, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team.id}


def _bot(ws: SlackWorkspace) -> User:
    return next(u for u in ws.users() if u.is_bot)


def _first_channel_of(ws: SlackWorkspace, user: str) -> Any:
    for channel in ws.channels():
        if user in channel.members and not channel.is_im and not channel.is_mpim:
            return channel
    raise ValueError(f"{user} is in no channel to type a command in")


def _generated_block_id(seed: str, index: int) -> str:
    """The block_id Slack assigns to a block sent without one (stable per message/view)."""
    return hashlib.sha1(f"{seed}:{index}".encode()).hexdigest()[:5]


def _with_block_ids(blocks: Sequence[dict[str, Any]], seed: str) -> list[dict[str, Any]]:
    """Blocks as Slack stores them: every block has a block_id."""
    out: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        copy = dict(block)
        copy.setdefault("block_id", _generated_block_id(seed, index))
        out.append(copy)
    return out


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements of a block (actions elements, an accessory, an input)."""
    found: list[dict[str, Any]] = []
    if block.get("type") == "actions":
        found += [e for e in block.get("elements", []) if isinstance(e, dict)]
    accessory = block.get("accessory")
    if isinstance(accessory, dict):
        found.append(accessory)
    element = block.get("element")
    if block.get("type") == "input" and isinstance(element, dict):
        found.append(element)
    return found


def _find_button(message: Message, action_id: str, value: str | None) -> tuple[str, dict[str, Any]]:
    """The block_id and element a click on `action_id` (with `value`) hits."""
    matches: list[tuple[str, dict[str, Any]]] = []
    for block in _with_block_ids(message.blocks or [], message.ts):
        for element in _elements(block):
            if element.get("action_id") == action_id:
                matches.append((block["block_id"], element))
    if value is not None:
        matches = [(b, e) for b, e in matches if e.get("value") == value]
    if not matches:
        wanted = f"{action_id!r}" + (f" with value {value!r}" if value is not None else "")
        raise ValueError(f"message {message.ts} in {message.channel} has no button {wanted}")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} buttons {action_id!r} on {message.ts}: pass value=")
    return matches[0]


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = [o for o in element.get("options", []) if isinstance(o, dict)]
    for group in element.get("option_groups", []) or []:
        options += [o for o in group.get("options", []) if isinstance(o, dict)]
    return options


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return {"text": option.get("text"), "value": value}
    raise ValueError(f"{element.get('action_id')!r} offers no option {value!r}")


def _state_values(
    blocks: Sequence[dict[str, Any]], values: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """`view.state.values` for the given inputs, initial values elsewhere, as Slack shapes it."""
    unknown = set(values) - {b["block_id"] for b in blocks if b.get("type") == "input"}
    if unknown:
        raise ValueError(f"the view has no input blocks {sorted(unknown)}")
    state: dict[str, dict[str, Any]] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        kind = str(element.get("type"))
        action_id = str(element.get("action_id") or _generated_block_id(block["block_id"], 0))
        given = values.get(block["block_id"], _Unset)
        state[block["block_id"]] = {action_id: _element_state(kind, element, given)}
    return state


class _UnsetType:
    pass


_Unset = _UnsetType()


def _element_state(kind: str, element: dict[str, Any], given: Any) -> dict[str, Any]:
    if kind in SELECTS:
        if given is _Unset:
            initial = element.get("initial_option")
            chosen = _option(element, initial["value"]) if isinstance(initial, dict) else None
        else:
            chosen = None if given is None else _option(element, str(given))
        return {"type": kind, SELECTS[kind]: chosen}
    if kind in MULTI_SELECTS:
        if given is _Unset:
            initial = element.get("initial_options") or []
            picked = [_option(element, o["value"]) for o in initial if isinstance(o, dict)]
        else:
            picked = [_option(element, str(v)) for v in (given or [])]
        return {"type": kind, MULTI_SELECTS[kind]: picked}
    if kind == "datepicker":
        chosen_date = element.get("initial_date") if given is _Unset else given
        return {"type": kind, "selected_date": chosen_date}
    if kind == "number_input":
        number = element.get("initial_value") if given is _Unset else given
        return {"type": kind, "value": None if number is None else str(number)}
    text = element.get("initial_value") if given is _Unset else given
    # Slack sends an emptied text input as null, not "".
    return {"type": kind, "value": text if text else None}
