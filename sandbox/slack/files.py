"""File uploads as Slack does them since files.upload was retired: three steps.

1. `files.getUploadURLExternal` (filename, length; optional alt_txt, snippet_type) answers an
   `upload_url` and a `file_id`. `length` must be a positive whole number (0 is
   `missing_argument`, as Slack documents); a missing or malformed argument is
   `invalid_arguments`.
2. The client POSTs the file's bytes to `upload_url` (raw body, or multipart with a `file`
   part); the upload service answers 200 `OK - <bytes>`, 404 for an unknown URL.
3. `files.completeUploadExternal` (files: a JSON array of `{"id", "title"}`; optional
   channel_id, initial_comment, thread_ts) finishes them: a file never uploaded is
   `file_not_found`; a file already completed is `file_not_found` too (its upload URL is
   spent); with a channel it is shared there, the initial comment posted as the bot's message
   (`not_in_channel` if the bot is not a member). Answers `files` with each file's id, name,
   title and size.
Behaviour follows docs.slack.dev for the two methods (the published Swagger spec in the
project's shared specs predates them); slack_sdk's `files_upload_v2` drives exactly these
steps, which the tests use.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from sandbox.slack.errors import ApiFailure
from sandbox.slack.state import Caller, SlackWorkspace


@dataclass
class Upload:
    """One file from its upload URL to its share."""

    id: str
    url_token: str
    filename: str
    length: int
    user: str
    alt_txt: str = ""
    data: bytes | None = None
    title: str = ""
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    message_ts: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What the control API shows of it (the bytes as size and sha256)."""
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title,
            "size": len(self.data or b""),
            "declared_length": self.length,
            "sha256": hashlib.sha256(self.data or b"").hexdigest(),
            "alt_txt": self.alt_txt,
            "completed": self.completed,
            "channels": list(self.channels),
            "message_ts": self.message_ts,
            "user": self.user,
        }


class FileStore:
    """The uploads of one workspace."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.base_url = "http://127.0.0.1"
        self.uploads: dict[str, Upload] = {}
        self.by_token: dict[str, str] = {}
        self._ids = itertools.count(1)

    def new(self, caller: Caller, filename: str, length: int, alt_txt: str) -> Upload:
        """A file waiting for its bytes."""
        with self.lock:
            n = next(self._ids)
            upload = Upload(
                id=f"F0SANDBOX{n:04d}",
                url_token=hashlib.sha256(f"upload-{n}-{filename}".encode()).hexdigest()[:24],
                filename=filename,
                length=length,
                user=caller.user.id,
                alt_txt=alt_txt,
            )
            self.uploads[upload.id] = upload
            self.by_token[upload.url_token] = upload.id
            return upload


_stores: weakref.WeakKeyDictionary[SlackWorkspace, FileStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def store_of(ws: SlackWorkspace) -> FileStore:
    """The workspace's uploads."""
    with _stores_lock:
        found = _stores.get(ws)
        if found is None:
            found = _stores[ws] = FileStore()
        return found


def get_upload_url_external(ws: SlackWorkspace, caller: Caller, args: Any) -> dict[str, Any]:
    """files.getUploadURLExternal: an upload URL and a file id for `filename` of `length`."""
    filename = args.text("filename")
    raw_length = args.text("length")
    if not filename or raw_length is None:
        raise ApiFailure("invalid_arguments")
    try:
        length = int(raw_length)
    except ValueError as exc:
        raise ApiFailure("invalid_arguments") from exc
    if length == 0:
        raise ApiFailure("missing_argument")
    if length < 0:
        raise ApiFailure("invalid_arguments")
    alt_txt = args.text("alt_txt") or ""
    if len(alt_txt) > 1000:
        raise ApiFailure("alt_txt_too_large")
    store = store_of(ws)
    upload = store.new(caller, filename, length, alt_txt)
    url = f"{store.base_url.rstrip('/')}/upload/v1/{upload.url_token}"
    return {"ok": True, "upload_url": url, "file_id": upload.id}


def complete_upload_external(ws: SlackWorkspace, caller: Caller, args: Any) -> dict[str, Any]:
    """files.completeUploadExternal: finish uploads, sharing them in a channel if named."""
    raw = args.raw("files")
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ApiFailure("invalid_arguments") from exc
    if not isinstance(files, list) or not files:
        raise ApiFailure("invalid_arguments")
    store = store_of(ws)
    with store.lock:
        chosen = []
        for entry in files:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise ApiFailure("invalid_arguments")
            upload = store.uploads.get(entry["id"])
            if upload is None or upload.data is None or upload.completed:
                raise ApiFailure("file_not_found")
            chosen.append((upload, str(entry.get("title") or upload.filename)))
    channel = args.text("channel_id")
    ts = None
    if channel:
        comment = args.text("initial_comment") or ""
        message = ws.post(caller.user, channel, text=comment, thread_ts=args.text("thread_ts"))
        ts, channel = message.ts, message.channel
    with store.lock:
        for upload, title in chosen:
            upload.completed, upload.title = True, title
            if channel:
                upload.channels.append(channel)
                upload.message_ts = ts
    return {
        "ok": True,
        "files": [
            {"id": u.id, "name": u.filename, "title": u.title, "size": len(u.data or b"")}
            for u, _ in chosen
        ],
    }


async def upload_endpoint(request: Request) -> PlainTextResponse:
    """POST /upload/v1/{token}: the upload service receiving a file's bytes."""
    ws: SlackWorkspace = request.app.state.workspace
    store = store_of(ws)
    token = request.path_params["token"]
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        part = form.get("file") or form.get("filename")
        body = await part.read() if isinstance(part, UploadFile) else str(part or "").encode()
    with store.lock:
        file_id = store.by_token.get(token)
        upload = store.uploads.get(file_id) if file_id else None
        if upload is None or upload.completed:
            return PlainTextResponse("Not Found", status_code=404)
        upload.data = body
    return PlainTextResponse(f"OK - {len(body)}")


FILE_METHODS = {
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
}
