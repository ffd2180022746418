"""The stand-in's HTTP face: `/api/<method>` as Slack answers it, `/_sandbox/...` for tests.

Wire behaviour copied from Slack:
- every method answers HTTP 200 with `{"ok": false, "error": ...}` when it refuses, including
  a missing token (`not_authed`), an unknown one (`invalid_auth`) and a name Slack has no
  method by (`unknown_method` with `req_method`, observed as HTTP 200, not 404);
- arguments come from the query string, a form (urlencoded or multipart, where a `token`
  field also authenticates) or a JSON body (token only in `Authorization: Bearer`); a JSON
  body without `charset` gets Slack's `missing_charset` warning;
- answers carry `Content-Type: application/json; charset=utf-8` and an `X-Slack-Req-Id`.
Injected faults render as Slack's edge does: 429 + `Retry-After` + `ratelimited`, 5xx with
an HTML page, a slow answer (the call is carried out at once, its answer held back), or a
connection reset with no answer at all.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from sandbox.faults import Fault, FaultKind, FaultPlan
from sandbox.slack.errors import ApiFailure
from sandbox.slack.files import FILE_METHODS, store_of, upload_endpoint
from sandbox.slack.interactivity import Delivery, Interactivity
from sandbox.slack.methods import METHODS, Args
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from sandbox.slack.state import Message, RecordedCall, SlackWorkspace
from sandbox.slack_socket import SocketModeHub

JSON_TYPE = "application/json; charset=utf-8"
HTTP_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def slack_json(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer with the headers Slack sets on every Web API response."""
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"X-Slack-Req-Id": secrets.token_hex(16), **(headers or {})},
    )


def parse_arguments(
    content_type: str, query: Mapping[str, str], body: bytes
) -> tuple[dict[str, Any], list[str], str | None]:
    """Arguments, warnings and a body `token` from a query string plus a JSON or form body."""
    args: dict[str, Any] = dict(query)
    kind = content_type.split(";")[0].strip().lower()
    warnings: list[str] = []
    if kind == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise ApiFailure("invalid_json") from exc
        if not isinstance(data, dict):
            raise ApiFailure("json_not_object")
        # Slack ignores a token in a JSON body: JSON callers must use the Authorization header.
        data.pop("token", None)
        args.update(data)
        if "charset" not in content_type.lower():
            warnings.append("missing_charset")
        return args, warnings, None
    if kind == "multipart/form-data":
        args.update(_multipart_fields(content_type, body))
    else:
        try:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise ApiFailure("invalid_form_data") from exc
    token = args.pop("token", None)
    return args, warnings, None if token is None else str(token)


def _multipart_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Plain fields of a multipart body, parsed with the stdlib (no python-multipart needed)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiFailure("invalid_form_data")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", errors="replace")
    return fields


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


async def drop_connection(send: Send) -> bool:
    """Reset the client's TCP connection without answering; False if uvicorn hides it.

    ASGI has no "abort" message, so this reaches the transport through uvicorn's
    request-response cycle (`send` is its bound method). SO_LINGER 0 makes the close an RST,
    which the client sees as "connection reset" while waiting for the status line.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.Transport):
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let uvicorn see the loss before we return, or it logs and tries to send a 500.
    for _ in range(20):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
    return True


class SlackApp:
    """The ASGI app: Web API under `/api/`, test control under `/_sandbox/`, response URLs
    under `/actions/`, and the Socket Mode WebSocket under `/link/`."""

    def __init__(
        self,
        workspace: SlackWorkspace,
        faults: FaultPlan,
        *,
        interactivity: Interactivity | None = None,
        socket: SocketModeHub | None = None,
    ) -> None:
        self.workspace = workspace
        self.faults = faults
        self.interactivity = interactivity or Interactivity(workspace)
        self.socket = socket or SocketModeHub(workspace)
        self.interactivity.socket = self.socket
        self.control = Starlette(
            routes=[
                *control_routes(workspace, faults, self.interactivity, self.socket),
                Route(
                    "/actions/{team}/{url_id}/{token}",
                    response_url_endpoint(self.interactivity),
                    methods=["POST"],
                ),
                Route("/upload/v1/{token}", upload_endpoint, methods=["POST"]),
            ]
        )
        self.control.state.workspace = workspace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route `/api/` to the Web API, WebSockets to Socket Mode, the rest to control."""
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self._api(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.socket.serve(WebSocket(scope, receive, send))
        else:
            await self.control(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        method = scope["path"][len("/api/") :]
        # Upload URLs point back at this server, under the address the client used.
        store_of(self.workspace).base_url = str(request.base_url)
        body = await request.body()
        refused: ApiFailure | None = None
        args: dict[str, Any] = {}
        warnings: list[str] = []
        form_token: str | None = None
        try:
            args, warnings, form_token = parse_arguments(
                request.headers.get("content-type", ""), request.query_params, body
            )
        except ApiFailure as failure:
            refused = failure
        fault = self.faults.take(method)
        if fault is not None and fault.kind is not FaultKind.LATENCY:
            await self._fault(fault, method, args, scope, receive, send)
            return
        token = bearer_token(request.headers.get("authorization")) or form_token
        if method == "apps.connections.open" or self.socket.is_app_token(token):
            status, answer = self._app_level(method, token, request)
        else:
            status, answer = self._answer(method, token, args, refused, warnings)
        lost = self.workspace.take_lost_response(method)
        self._record(
            method,
            args,
            None if lost else status,
            answer.get("error"),
            fault.kind if fault else ("lost_response" if lost else None),
        )
        if lost and await drop_connection(send):
            return
        if fault is not None:
            # LATENCY: the call took effect; only its answer is late, so a client that gave
            # up has still posted, as when Slack is slow rather than down.
            await asyncio.sleep(fault.delay)
        await slack_json(answer, status)(scope, receive, send)

    def _answer(
        self,
        method: str,
        token: str | None,
        args: dict[str, Any],
        refused: ApiFailure | None,
        warnings: list[str],
    ) -> tuple[int, dict[str, Any]]:
        handler = METHODS.get(method) or FILE_METHODS.get(method)
        try:
            if handler is None:
                raise ApiFailure("unknown_method", extra={"req_method": method})
            caller = self.workspace.authenticate(token)
            if refused is not None:
                raise refused
            answer = handler(self.workspace, caller, Args(args))
        except ApiFailure as failure:
            return failure.status, failure.body()
        if warnings:
            answer["warning"] = ",".join(warnings)
            answer.setdefault("response_metadata", {})["warnings"] = warnings
        return 200, answer

    def _app_level(
        self, method: str, token: str | None, request: Request
    ) -> tuple[int, dict[str, Any]]:
        """`apps.connections.open`, the one method an app-level token may call."""
        try:
            if method != "apps.connections.open":
                raise ApiFailure("not_allowed_token_type")
            host = request.headers.get("host") or f"127.0.0.1:{request.url.port}"
            return 200, self.socket.open_connection(token, f"ws://{host}")
        except ApiFailure as failure:
            return failure.status, failure.body()

    async def _fault(
        self,
        fault: Fault,
        method: str,
        args: dict[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if fault.kind is FaultKind.RATE_LIMIT:
            self._record(method, args, 429, "ratelimited", fault.kind)
            response: Response = slack_json(
                {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(fault.retry_after)}
            )
        elif fault.kind is FaultKind.RESET:
            self._record(method, args, None, None, fault.kind)
            if await drop_connection(send):
                return
            # No transport to reset (another ASGI server): a bare 502 is the nearest thing.
            response = HTMLResponse(_error_page(502), status_code=502)
        else:
            self._record(method, args, fault.status, None, fault.kind)
            response = HTMLResponse(_error_page(fault.status), status_code=fault.status)
        await response(scope, receive, send)

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        status: int | None,
        error: str | None,
        fault: str | None,
    ) -> None:
        self.workspace.record(
            RecordedCall(
                method=method,
                args=args,
                http_status=status,
                error=error,
                fault=fault,
                at=self.workspace.clock(),
            )
        )


def _error_page(status: int) -> str:
    reason = HTTP_REASONS.get(status, "Error")
    return f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"


# --- /_sandbox control API -------------------------------------------------------------


Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Callable[[Request], Awaitable[Any]]) -> Endpoint:
    """Wrap a control handler: its result as JSON, bad input as 400 / unknown ids as 404."""

    async def endpoint(request: Request) -> Response:
        """Run the handler and render its outcome."""
        try:
            result = await handler(request)
        except KeyError as exc:
            return JSONResponse({"ok": False, "error": f"not found: {exc}"}, status_code=404)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
        except ApiFailure as failure:
            return JSONResponse(failure.body(), status_code=400)
        except RuntimeError as exc:
            # Asked to deliver with no receiver configured or no app connected.
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=409)
        return JSONResponse({"ok": True, **result})

    return endpoint


async def _json(request: Request) -> dict[str, Any]:
    data = await request.json() if await request.body() else {}
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    return data


def response_url_endpoint(interactivity: Interactivity) -> Endpoint:
    """A `response_url` as hooks.slack.com serves it: JSON (or `payload=` form) in, text out."""

    async def endpoint(request: Request) -> Response:
        """Apply one post to a response URL."""
        raw = await request.body()
        body: Any = None
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                body = json.loads(raw or b"null")
            else:
                form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                body = json.loads(form.get("payload", "null"))
        except (ValueError, UnicodeDecodeError):
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        status, answer = interactivity.respond(request.path_params["token"], body)
        return Response(answer, status_code=status, media_type="text/html")

    return endpoint


def control_routes(
    ws: SlackWorkspace,
    faults: FaultPlan,
    interactivity: Interactivity | None = None,
    socket: SocketModeHub | None = None,
) -> list[Route]:
    """The `/_sandbox/...` routes that let another process seed, drive and inspect the stand-in."""
    people = interactivity or Interactivity(ws)
    hub = socket or SocketModeHub(ws)

    async def state(request: Request) -> dict[str, Any]:
        """GET: team, users and channels."""
        return {
            "team": ws.team.__dict__,
            "users": [u.__dict__ for u in ws.users()],
            "channels": [c.__dict__ for c in ws.channels()],
        }

    async def seed(request: Request) -> dict[str, Any]:
        """POST: load the example workspace; answers its bot token."""
        ws.load(EXAMPLE_WORKSPACE)
        return {"bot_token": EXAMPLE_WORKSPACE.bot_token}

    async def add_user(request: Request) -> dict[str, Any]:
        """POST {id, name, real_name?, email?, tz?, title?}: add a user."""
        data = await _json(request)
        return {"user": ws.add_user(data.pop("id"), data.pop("name"), **data).__dict__}

    async def add_channel(request: Request) -> dict[str, Any]:
        """POST {id, name, members?, purpose?, is_private?}: add a channel."""
        data = await _json(request)
        return {"channel": ws.add_channel(data.pop("id"), data.pop("name"), **data).__dict__}

    async def add_token(request: Request) -> dict[str, Any]:
        """POST {token, user}: make a token authenticate as a user."""
        data = await _json(request)
        ws.add_token(data["token"], data["user"])
        return {}

    async def post_message(request: Request) -> dict[str, Any]:
        """POST {channel, user, text, thread_ts?, blocks?}: a person posts."""
        data = await _json(request)
        msg = ws.post(
            ws.user(data["user"]),
            data["channel"],
            text=data.get("text", ""),
            blocks=data.get("blocks"),
            thread_ts=data.get("thread_ts"),
            client_msg_id=secrets.token_hex(8),
        )
        return {"message": msg.to_json()}

    async def messages(request: Request) -> dict[str, Any]:
        """GET ?channel=[&thread_ts=]: a channel's or a thread's messages."""
        channel, ts = request.query_params["channel"], request.query_params.get("thread_ts")
        found: list[Message] = ws.thread_messages(channel, ts) if ts else ws.messages(channel)
        return {"messages": [m.to_json() for m in found]}

    async def ephemerals(request: Request) -> dict[str, Any]:
        """GET ?user=&channel=: ephemeral messages."""
        q = request.query_params
        return {
            "ephemerals": [
                e.to_json() for e in ws.ephemerals(user=q.get("user"), channel=q.get("channel"))
            ]
        }

    async def views(request: Request) -> dict[str, Any]:
        """GET ?user=: views opened or pushed."""
        return {"views": [v.to_json() for v in ws.views(user=request.query_params.get("user"))]}

    async def triggers(request: Request) -> dict[str, Any]:
        """POST {user}: issue a trigger_id."""
        return {"trigger_id": ws.issue_trigger((await _json(request))["user"])}

    async def calls(request: Request) -> dict[str, Any]:
        """GET ?method=: the request log."""
        return {"calls": [c.to_json() for c in ws.calls(request.query_params.get("method"))]}

    async def add_fault(request: Request) -> dict[str, Any]:
        """POST {method, kind, status?, retry_after?, delay?, times?}: queue a fault."""
        data = await _json(request)
        fault = Fault(
            kind=FaultKind(data["kind"]),
            status=int(data.get("status", 503)),
            retry_after=int(data.get("retry_after", 1)),
            delay=float(data.get("delay", 0.0)),
        )
        faults.add(data["method"], fault, int(data.get("times", 1)))
        return {}

    async def clear_faults(request: Request) -> dict[str, Any]:
        """DELETE: forget queued and random faults."""
        faults.clear()
        return {}

    async def lose(request: Request) -> dict[str, Any]:
        """POST {method, times?}: act on calls, then drop their answers."""
        data = await _json(request)
        ws.lose_responses(data["method"], int(data.get("times", 1)))
        return {}

    async def reset(request: Request) -> dict[str, Any]:
        """POST: forget traffic and faults; keep people and channels."""
        ws.forget_traffic()
        faults.clear()
        people.forget()
        return {}

    async def health(request: Request) -> dict[str, Any]:
        """GET: the stand-in is up."""
        return {}

    async def receiver(request: Request) -> dict[str, Any]:
        """POST {url, signing_secret}: where interactions go and how they are signed."""
        data = await _json(request)
        people.configure(data.get("url"), str(data["signing_secret"]))
        return {}

    async def app_tokens(request: Request) -> dict[str, Any]:
        """POST {token?}: accept an app-level token for Socket Mode (made up if omitted)."""
        data = await _json(request)
        token = data.get("token")
        if token:
            hub.add_app_token(str(token))
            return {"token": token}
        return {"token": hub.new_app_token()}

    async def socket_state(request: Request) -> dict[str, Any]:
        """GET: whether an app holds a Socket Mode connection."""
        return {"connected": hub.connected()}

    async def click(request: Request) -> dict[str, Any]:
        """POST {channel, message_ts, action_id, user, value?, timestamp?, signing_secret?}."""
        d = await _json(request)
        delivery = await run_in_threadpool(
            people.click,
            d["channel"],
            d["message_ts"],
            d["action_id"],
            d["user"],
            value=d.get("value"),
            timestamp=d.get("timestamp"),
            signing_secret=d.get("signing_secret"),
        )
        return {"delivery": delivery.to_json()}

    async def submit_view(request: Request) -> dict[str, Any]:
        """POST {view_id, user, values, timestamp?, signing_secret?}: submit an open modal."""
        d = await _json(request)
        delivery = await run_in_threadpool(
            people.submit_view,
            d["view_id"],
            d["user"],
            d.get("values") or {},
            timestamp=d.get("timestamp"),
            signing_secret=d.get("signing_secret"),
        )
        return {"delivery": delivery.to_json()}

    async def slash(request: Request) -> dict[str, Any]:
        """POST {user, text, channel?, command?, timestamp?, signing_secret?}."""
        d = await _json(request)
        delivery = await run_in_threadpool(
            people.slash,
            d["user"],
            d.get("text", ""),
            channel=d.get("channel"),
            command=d.get("command", "/govflow"),
            timestamp=d.get("timestamp"),
            signing_secret=d.get("signing_secret"),
        )
        return {"delivery": delivery.to_json()}

    async def redeliver(request: Request) -> dict[str, Any]:
        """POST {delivery, retry_num?, reason?}: send an earlier delivery's body again."""
        d = await _json(request)
        delivery = await run_in_threadpool(
            people.redeliver,
            Delivery.from_json(d["delivery"]),
            retry_num=int(d.get("retry_num", 1)),
            reason=str(d.get("reason", "http_timeout")),
        )
        return {"delivery": delivery.to_json()}

    async def files(request: Request) -> dict[str, Any]:
        """GET: every upload, its bytes as size and sha256."""
        store = store_of(ws)
        with store.lock:
            return {"files": [u.to_json() for u in store.uploads.values()]}

    async def response_posts(request: Request) -> dict[str, Any]:
        """GET ?user=: posts the app made to response URLs."""
        found = people.response_posts(user=request.query_params.get("user"))
        return {"posts": [p.to_json() for p in found]}

    table: list[tuple[str, Callable[[Request], Awaitable[Any]], str]] = [
        ("/_sandbox/health", health, "GET"),
        ("/_sandbox/state", state, "GET"),
        ("/_sandbox/seed", seed, "POST"),
        ("/_sandbox/users", add_user, "POST"),
        ("/_sandbox/channels", add_channel, "POST"),
        ("/_sandbox/tokens", add_token, "POST"),
        ("/_sandbox/messages", post_message, "POST"),
        ("/_sandbox/messages", messages, "GET"),
        ("/_sandbox/ephemerals", ephemerals, "GET"),
        ("/_sandbox/views", views, "GET"),
        ("/_sandbox/triggers", triggers, "POST"),
        ("/_sandbox/calls", calls, "GET"),
        ("/_sandbox/faults", add_fault, "POST"),
        ("/_sandbox/faults", clear_faults, "DELETE"),
        ("/_sandbox/lost-responses", lose, "POST"),
        ("/_sandbox/reset", reset, "POST"),
        ("/_sandbox/receiver", receiver, "POST"),
        ("/_sandbox/app-tokens", app_tokens, "POST"),
        ("/_sandbox/socket", socket_state, "GET"),
        ("/_sandbox/click", click, "POST"),
        ("/_sandbox/submit-view", submit_view, "POST"),
        ("/_sandbox/slash", slash, "POST"),
        ("/_sandbox/redeliver", redeliver, "POST"),
        ("/_sandbox/response-posts", response_posts, "GET"),
        ("/_sandbox/files", files, "GET"),
    ]
    return [Route(path, _guarded(fn), methods=[verb]) for path, fn, verb in table]
