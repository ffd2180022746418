"""Reading an inbound HTTP body without trusting the sender about its size."""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request

from domain.errors import BodyTooLarge


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
