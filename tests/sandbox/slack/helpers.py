"""Test helpers for the Slack stand-in, shared by sandbox and gateway tests."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler

from sandbox.slack import EXAMPLE_WORKSPACE, SlackSandbox

BOT = EXAMPLE_WORKSPACE.bot
QA = EXAMPLE_WORKSPACE.channel_by_name("qa-signoff")
GOVERNANCE = EXAMPLE_WORKSPACE.channel_by_name("governance")
PRIYA = EXAMPLE_WORKSPACE.user_by_email("priya.raman@example.com")
TOMAS = EXAMPLE_WORKSPACE.user_by_email("tomas.herrera@example.com")
ELENA = EXAMPLE_WORKSPACE.user_by_email("elena.petrova@example.com")


class ManualClock:
    """A clock a test moves by hand (trigger expiry without sleeping)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        """The current time, as `time.time` would give it."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def web_client(
    sandbox: SlackSandbox,
    token: str | None = None,
    *,
    retry_handlers: list[RetryHandler] | None = None,
) -> WebClient:
    """The real slack_sdk client pointed at the stand-in, with no retries unless given."""
    return WebClient(
        token=sandbox.bot_token if token is None else token,
        base_url=sandbox.api_url,
        retry_handlers=retry_handlers or [],
    )
