"""`SlackGateway`: govflow's only holder of a `slack_sdk.WebClient`, and its one retry layer.

Retries live here and nowhere above (DESIGN decision 3), as slack_sdk retry handlers:
- 429: `RateLimitErrorRetryHandler` sleeps Slack's `Retry-After` (+ up to 1 s jitter);
- 500/503: `ServerErrorRetryHandler` with backoff;
- connection failures: `UnsentRequestRetryHandler` retries a read always, but a write only
  when the request provably never left (connect failed), because a reset after Slack took
  the message would otherwise post it twice; the outbox looks before resending instead.
slack_sdk counts attempts once per call across all handlers, so each `*_retries` caps the
total retries at which that kind of failure is still retried.

Whatever still fails leaves as `SlackCallFailed` (a `SlackError`) with Slack's error code,
HTTP status and Retry-After, raised `from` the slack_sdk or socket error.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryIntervalCalculator,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.models.blocks import Block
from slack_sdk.models.metadata import Metadata
from slack_sdk.web import SlackResponse

from integrations.slack.port import (
    Blocks,
    MessageMetadata,
    PostedMessage,
    SlackCallFailed,
    ViewPayload,
)

SLACK_API_URL = "https://slack.com/api/"
# Methods that change nothing (or, like conversations.open, return the same thing twice):
# safe to resend after a connection dropped mid-call.
IDEMPOTENT_METHODS = frozenset(
    {
        "auth.test",
        "chat.getPermalink",
        "conversations.history",
        "conversations.info",
        "conversations.open",
        "conversations.replies",
        "users.info",
        "users.lookupByEmail",
    }
)
_SLACK_CODE = re.compile(r"[a-z0-9_]+")


class UnsentRequestRetryHandler(ConnectionErrorRetryHandler):
    """Retry connection failures, but retry a write only if it never reached Slack."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        method = request.url.split("?", 1)[0].rsplit("/", 1)[-1]
        # urllib wraps failures while connecting/sending in URLError; a reset or timeout
        # while awaiting the answer comes raw, and then Slack may already have acted.
        return method in IDEMPOTENT_METHODS or isinstance(error, URLError)


def _metadata_dict(metadata: MessageMetadata | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if isinstance(metadata, Metadata):
        return metadata.to_dict()
    return dict(metadata)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def translate_error(method: str, exc: Exception) -> SlackCallFailed:
    """The SlackError for a failed call: Slack's code, HTTP status and Retry-After kept."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = data.get("error")
        # A non-JSON body (a 5xx page) reaches us as slack_sdk's prose, not as a Slack code.
        code = error if isinstance(error, str) and _SLACK_CODE.fullmatch(error) else None
        retry_after_text = _header(exc.response.headers or {}, "Retry-After")
        try:
            retry_after = float(retry_after_text) if retry_after_text else None
        except ValueError:
            retry_after = None
        return SlackCallFailed(
            method,
            code,
            f"{method}: {code or 'unexpected response'}",
            status=status,
            retry_after=retry_after,
        )
    return SlackCallFailed(method, None, f"{method}: no answer: {type(exc).__name__}: {exc}")


class SlackGateway:
    """Slack Web API operations returning plain data; satisfies `SlackPort`."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = SLACK_API_URL,
        timeout: int = 30,
        rate_limit_retries: int = 3,
        server_error_retries: int = 2,
        connection_retries: int = 1,
        retry_interval: RetryIntervalCalculator | None = None,
        page_size: int = 200,
    ) -> None:
        self._token = token
        self._base_url = base_url
        self._timeout = timeout
        self._rate_limit_retries = rate_limit_retries
        self._server_error_retries = server_error_retries
        self._connection_retries = connection_retries
        self._retry_interval = retry_interval or BackoffRetryIntervalCalculator()
        self._page_size = page_size
        self._web_client: WebClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Name the endpoint, never the token."""
        return f"SlackGateway(base_url={self._base_url!r})"

    @property
    def _client(self) -> WebClient:
        """The WebClient, built on first use (never at import or construction)."""
        with self._lock:
            if self._web_client is None:
                handlers: list[RetryHandler] = [
                    UnsentRequestRetryHandler(
                        max_retry_count=self._connection_retries,
                        interval_calculator=self._retry_interval,
                    ),
                    RateLimitErrorRetryHandler(max_retry_count=self._rate_limit_retries),
                    ServerErrorRetryHandler(
                        max_retry_count=self._server_error_retries,
                        interval_calculator=self._retry_interval,
                    ),
                ]
                self._web_client = WebClient(
                    token=self._token,
                    base_url=self._base_url,
                    timeout=self._timeout,
                    retry_handlers=handlers,
                )
            return self._web_client

    def _call(self, method: str, send: Callable[[WebClient], SlackResponse]) -> SlackResponse:
        try:
            return send(self._client)
        except (SlackClientError, OSError, HTTPException) as exc:
            raise translate_error(method, exc) from exc

    # --- messages ----------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
        metadata: MessageMetadata | None = None,
    ) -> PostedMessage:
        """Post to a channel id or a user id (their DM with the app), optionally in a thread."""
        response = self._call(
            "chat.postMessage",
            lambda c: c.chat_postMessage(
                channel=channel,
                text=text,
                blocks=_blocks(blocks),
                thread_ts=thread_ts,
                metadata=_metadata_dict(metadata),
            ),
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    def upload_file(
        self,
        channel: str,
        content: bytes,
        *,
        filename: str,
        title: str,
        initial_comment: str = "",
        alt_txt: str = "",
    ) -> str:
        """Share a file in a channel (getUploadURLExternal, upload, completeUploadExternal)."""
        response = self._call(
            "files.completeUploadExternal",
            lambda c: c.files_upload_v2(
                channel=channel,
                content=content,
                filename=filename,
                title=title,
                initial_comment=initial_comment or None,
                alt_txt=alt_txt or None,
            ),
        )
        files = response.get("files") or [response.get("file") or {}]
        return str(files[0].get("id", ""))

    def update_message(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        metadata: MessageMetadata | None = None,
    ) -> None:
        """Replace the text and blocks of a message the app posted."""
        self._call(
            "chat.update",
            lambda c: c.chat_update(
                channel=channel,
                ts=ts,
                text=text,
                blocks=_blocks(blocks),
                metadata=_metadata_dict(metadata),
            ),
        )

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Show a message to one member of a channel only; returns its message_ts."""
        response = self._call(
            "chat.postEphemeral",
            lambda c: c.chat_postEphemeral(
                channel=channel,
                user=user,
                text=text,
                blocks=_blocks(blocks),
                thread_ts=thread_ts,
            ),
        )
        return str(response["message_ts"])

    def permalink(self, channel: str, ts: str) -> str:
        """The web link of a message."""
        response = self._call(
            "chat.getPermalink", lambda c: c.chat_getPermalink(channel=channel, message_ts=ts)
        )
        return str(response["permalink"])

    def find_message_by_metadata(
        self,
        channel: str,
        event_type: str,
        key: str,
        value: str | int,
        *,
        thread_ts: str | None = None,
        oldest: str | None = None,
    ) -> str | None:
        """The ts of a message whose metadata has this event_type and payload[key] == value.

        Pages conversations.history (or .replies of `thread_ts`) with include_all_metadata,
        so the outbox can look for a message it may have sent before a crash.
        """
        for message in self._messages(channel, thread_ts=thread_ts, oldest=oldest):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get(key) == value:
                return str(message["ts"])
        return None

    def _messages(
        self, channel: str, *, thread_ts: str | None, oldest: str | None
    ) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        method = "conversations.replies" if thread_ts else "conversations.history"
        while True:

            def page(c: WebClient, cursor: str | None = cursor) -> SlackResponse:
                if thread_ts:
                    return c.conversations_replies(
                        channel=channel,
                        ts=thread_ts,
                        oldest=oldest,
                        cursor=cursor,
                        limit=self._page_size,
                        include_all_metadata=True,
                    )
                return c.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    cursor=cursor,
                    limit=self._page_size,
                    include_all_metadata=True,
                )

            response = self._call(method, page)
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    # --- people and conversations ------------------------------------------------------

    def open_dm(self, user_id: str) -> str:
        """The id of the app's DM channel with a user (opened if need be)."""
        response = self._call("conversations.open", lambda c: c.conversations_open(users=[user_id]))
        return str(response["channel"]["id"])

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user id for an email, None when nobody in the workspace has it."""
        try:
            response = self._call(
                "users.lookupByEmail", lambda c: c.users_lookupByEmail(email=email)
            )
        except SlackCallFailed as failure:
            if failure.code == "users_not_found":
                return None
            raise
        return str(response["user"]["id"])

    def user_email(self, user_id: str) -> str | None:
        """The email on a user's profile, None when it has none (bots)."""
        response = self._call("users.info", lambda c: c.users_info(user=user_id))
        email = (response["user"].get("profile") or {}).get("email")
        return str(email) if email else None

    def bot_user_id(self) -> str:
        """The user id the token acts as (to recognise the app's own messages)."""
        return str(self._call("auth.test", lambda c: c.auth_test())["user_id"])

    # --- views -------------------------------------------------------------------------

    def open_view(self, trigger_id: str, view: ViewPayload) -> str:
        """Open a modal for the user behind a fresh trigger_id; returns the view id."""
        response = self._call(
            "views.open", lambda c: c.views_open(trigger_id=trigger_id, view=_view(view))
        )
        return str(response["view"]["id"])

    def push_view(self, trigger_id: str, view: ViewPayload) -> str:
        """Push a modal on top of the one open; returns the view id."""
        response = self._call(
            "views.push", lambda c: c.views_push(trigger_id=trigger_id, view=_view(view))
        )
        return str(response["view"]["id"])

    def update_view(
        self,
        view: ViewPayload,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> str:
        """Replace an open view's content (a stale `hash` fails with code hash_conflict)."""
        response = self._call(
            "views.update",
            lambda c: c.views_update(
                view=_view(view),
                view_id=view_id,
                external_id=external_id,
                hash=hash,
            ),
        )
        return str(response["view"]["id"])


def _blocks(blocks: Blocks | None) -> list[Block | dict[str, Any]] | None:
    """Blocks as WebClient types them: Block objects as is, mappings as plain dicts."""
    if blocks is None:
        return None
    return [b if isinstance(b, Block) else dict(b) for b in blocks]


def _view(view: ViewPayload) -> Any:
    """A View object as is; a mapping as a plain dict (what WebClient serialises)."""
    return view if not isinstance(view, Mapping) else dict(view)
