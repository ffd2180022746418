"""A round-robin load balancer in front of several receivers, for the scaled soak.

Slack and Jira deliver to one URL; in production a load balancer spreads the deliveries over
the receivers and skips one that does not answer. This one does the same over HTTP: each
delivery goes to the next receiver in turn, and to the one after it when the connection is
refused or reset (a receiver that was just killed), as a load balancer's retry on another
backend would. The body and headers pass unchanged, so signatures still verify.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Headers that belong to one hop, not to the delivery.
HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})


class RoundRobin:
    """Forwards each delivery to the receivers in turn; counts what each one answered."""

    def __init__(self, backends: Sequence[str], timeout: float = 10.0) -> None:
        self.backends = list(backends)
        self._next = itertools.cycle(range(len(self.backends)))
        self._lock = threading.Lock()
        self.client = httpx.Client(timeout=timeout)
        self.answered = [0] * len(self.backends)
        self.skipped = 0

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """Send to the next receiver that takes the connection; 502 if none does."""
        with self._lock:
            first = next(self._next)
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        for step in range(len(self.backends)):
            index = (first + step) % len(self.backends)
            try:
                answer = self.client.post(
                    f"{self.backends[index]}{path}", content=body, headers=sent
                )
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                with self._lock:
                    self.skipped += 1
                continue  # that receiver is down: the next one takes it
            with self._lock:
                self.answered[index] += 1
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return Response(answer.content, status_code=answer.status_code, headers=kept)
        return Response(b"no receiver answered", status_code=502)

    def app(self) -> Starlette:
        """The ASGI app: every POST is forwarded."""

        async def deliver(request: Request) -> Response:
            body = await request.body()
            headers = dict(request.headers)
            return await run_in_threadpool(self.forward, request.url.path, body, headers)

        return Starlette(routes=[Route("/{path:path}", deliver, methods=["POST"])])

    def close(self) -> None:
        """Close the forwarding client."""
        self.client.close()
