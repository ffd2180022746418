"""What govflow may ask of Slack: the `SlackPort` protocol, its plain-data results, its error.

`SlackGateway` implements it over `slack_sdk`; a flow or task depends on the protocol, so a
test can hand it the gateway pointed at the sandbox or a small hand-written fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.models.blocks import Block
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View

from domain.errors import SlackError

Blocks = Sequence[Block | Mapping[str, Any]]
MessageMetadata = Metadata | Mapping[str, Any]
ViewPayload = View | Mapping[str, Any]


@dataclass(frozen=True)
class PostedMessage:
    """Where a message landed: a DM post reports the D... channel, not the user id."""

    channel: str
    ts: str


class SlackCallFailed(SlackError):
    """A Slack Web API call failed; `code` is Slack's error string when Slack sent one.

    `status` is the HTTP status (200 for Slack's `ok: false` refusals, None when no answer
    came back), `retry_after` the seconds Slack asked us to wait on a 429.
    """

    def __init__(
        self,
        method: str,
        code: str | None,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.method = method
        self.code = code


class SlackPort(Protocol):
    """The Slack operations govflow's tasks use; every failure is a `SlackError`."""

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
        ...

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
        ...

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
        ...

    def open_dm(self, user_id: str) -> str:
        """The id of the app's DM channel with a user (opened if need be)."""
        ...

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user id for an email, None when nobody in the workspace has it."""
        ...

    def user_email(self, user_id: str) -> str | None:
        """The email on a user's profile, None when it has none (bots)."""
        ...

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
        """The ts of a message whose metadata has this event_type and payload[key] == value."""
        ...

    def permalink(self, channel: str, ts: str) -> str:
        """The web link of a message."""
        ...

    def open_view(self, trigger_id: str, view: ViewPayload) -> str:
        """Open a modal for the user behind a fresh trigger_id; returns the view id."""
        ...

    def push_view(self, trigger_id: str, view: ViewPayload) -> str:
        """Push a modal on top of the one open; returns the view id."""
        ...

    def update_view(
        self,
        view: ViewPayload,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> str:
        """Replace an open view's content (a stale `hash` fails with code hash_conflict)."""
        ...
