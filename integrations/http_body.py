"""Reading an inbound HTTP body without trusting the sender about its size, or refusing it."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse

from domain.errors import BodyTooLarge
from integrations.db.audit import record_audit

# What a refusal's audit record may quote of its reason (the answer quotes less).
MAX_REASON = 2000


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body; BodyTooLarge as soon as it is known to exceed `limit` bytes.

    A declared Content-Length above the limit is refused before any of the body is read; a
    body streamed without one (chunked) is read only until it passes the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise BodyTooLarge(limit)
    return bytes(received)


class Inbound(NamedTuple):
    """What a receiver endpoint needs of a request; `body` None when it was too large."""

    body: bytes | None
    headers: dict[str, str]
    remote: str
    path: str


async def receive(request: Request, limit: int) -> Inbound:
    """The request's body (None past `limit`, unread), lower-cased headers, sender and path."""
    try:
        body: bytes | None = await read_body(request, limit)
    except BodyTooLarge:
        body = None
    headers = {k.lower(): v for k, v in request.headers.items()}
    remote = request.client.host if request.client else "unknown"
    return Inbound(body, headers, remote, request.url.path)


def refuse_inbound(
    sessions: sessionmaker[Session],
    at: datetime,
    status: int,
    action: str,
    reason: str,
    path: str,
    remote: str,
) -> JSONResponse:
    """Audit a request refused at the door (never its body) and answer it with `status`."""
    with sessions.begin() as session:
        record_audit(
            session,
            at=at,
            actor=f"remote:{remote}",
            action=action,
            reason=reason[:MAX_REASON],
            detail={"path": path, "reason": reason[:MAX_REASON], "remote": remote},
        )
    return JSONResponse({"ok": False, "error": reason[:300]}, status_code=status)
