"""Socket Mode for the Slack stand-in: `apps.connections.open` and the WebSocket behind it.

As on Slack: the app calls `apps.connections.open` with an app-level token (`xapp-...`) and
gets a single-use `ws://` URL; on connecting it receives a `hello`; every interaction then
arrives as an envelope `{"envelope_id", "type", "accepts_response_payload", "payload"}` and
the app acknowledges with `{"envelope_id", "payload"?}`. The WebSocket is served by the same
uvicorn server as the Web API (uvicorn speaks WebSocket through the `websockets` package),
so an in-process and a separate-process stand-in behave alike.

Deliveries are made from a test thread (or a control request run in a worker thread): the
envelope is handed to the server's event loop and the caller waits for the matching ack.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.slack.errors import ApiFailure
from sandbox.slack.interactivity import ACK_TIMEOUT_SECONDS, Delivery
from sandbox.slack.state import SlackWorkspace

APP_ID = "A0GF00001"
SOCKET_PATH = "/link/"


@dataclass
class _Connection:
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    opened_at: float


class SocketModeHub:
    """App-level tokens, connection tickets, open connections and envelopes awaiting acks."""

    def __init__(self, workspace: SlackWorkspace, *, ack_timeout: float = ACK_TIMEOUT_SECONDS):
        self.workspace = workspace
        self.ack_timeout = ack_timeout
        self._lock = threading.Lock()
        self._app_tokens: set[str] = set()
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._pending: dict[str, concurrent.futures.Future[dict[str, Any]]] = {}
        self.acks: list[dict[str, Any]] = []

    def add_app_token(self, token: str) -> None:
        """Accept `token` (it must look like `xapp-...`) for `apps.connections.open`."""
        if not token.startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp-")
        with self._lock:
            self._app_tokens.add(token)

    def is_app_token(self, token: str | None) -> bool:
        """Whether `token` is a registered app-level token."""
        with self._lock:
            return token is not None and token in self._app_tokens

    def open_connection(self, token: str | None, ws_base: str) -> dict[str, Any]:
        """The `apps.connections.open` answer: a fresh single-use WebSocket URL."""
        if not token:
            raise ApiFailure("not_authed")
        if not self.is_app_token(token):
            # A bot token here is refused the way Slack refuses it.
            raise ApiFailure(
                "not_allowed_token_type" if token.startswith("xox") else "invalid_auth"
            )
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return {"ok": True, "url": f"{ws_base}{SOCKET_PATH}?ticket={ticket}&app_id={APP_ID}"}

    def connected(self) -> bool:
        """Whether an app holds an open Socket Mode connection."""
        with self._lock:
            return bool(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until an app connects (its client connects in the background)."""
        deadline = time.monotonic() + timeout
        while not self.connected():
            if time.monotonic() > deadline:
                raise TimeoutError("no Socket Mode connection")
            time.sleep(0.01)

    async def serve(self, websocket: WebSocket) -> None:
        """The WebSocket endpoint: check the ticket, say hello, collect acks until closed."""
        ticket = websocket.query_params.get("ticket", "")
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = _Connection(websocket, asyncio.get_running_loop(), time.time())
        with self._lock:
            self._connections.append(connection)
            count = len(self._connections)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-sandbox",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }
        try:
            await websocket.send_text(json.dumps(hello))
            while True:
                self._take_ack(await websocket.receive_text())
        except WebSocketDisconnect:
            return
        finally:
            with self._lock:
                self._connections.remove(connection)

    def _take_ack(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        with self._lock:
            self.acks.append(data)
            waiting = self._pending.pop(str(data.get("envelope_id")), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(data)

    def deliver(self, kind: str, envelope_type: str, payload: dict[str, Any]) -> Delivery:
        """Send one envelope over the newest connection and wait for its ack (3 s)."""
        with self._lock:
            if not self._connections:
                raise RuntimeError("no Socket Mode connection is open")
            connection = self._connections[-1]
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is connection.loop:
            raise RuntimeError("deliver() from the server's own event loop would deadlock")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "accepts_response_payload": True,
            "payload": payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        raw = json.dumps(envelope)
        acked: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            self._pending[envelope_id] = acked
        started = time.perf_counter()
        sent = asyncio.run_coroutine_threadsafe(
            connection.websocket.send_text(raw), connection.loop
        )
        try:
            sent.result(timeout=self.ack_timeout)
            ack = acked.result(timeout=self.ack_timeout)
        except concurrent.futures.TimeoutError:
            with self._lock:
                self._pending.pop(envelope_id, None)
            return Delivery(
                kind,
                "socket",
                None,
                "",
                time.perf_counter() - started,
                payload,
                raw,
                "application/json",
                error="timeout",
            )
        body = ack.get("payload")
        return Delivery(
            kind=kind,
            transport="socket",
            status=200,
            body=json.dumps(body) if body is not None else "",
            elapsed=time.perf_counter() - started,
            payload=payload,
            raw=raw,
            content_type="application/json",
        )

    def new_app_token(self) -> str:
        """Make up and register a fresh app-level token."""
        token = f"xapp-1-{APP_ID}-{secrets.token_hex(8)}"
        self.add_app_token(token)
        return token
