"""GOVFLOW_HTTP_TIMEOUT_SECONDS bounds how long a Jira or Slack call waits for its answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import load_settings
from domain.errors import IntegrationError
from govflow.runtime import slack_gateway
from integrations.jira.gateway import JiraGateway
from sandbox.faults import Fault, FaultKind
from sandbox.jira_server import JiraSandbox
from sandbox.slack import SlackSandbox


@pytest.fixture
def stand_ins() -> Iterator[tuple[JiraSandbox, SlackSandbox]]:
    """A seeded Jira and Slack stand-in."""
    with JiraSandbox(seed=True) as jira, SlackSandbox() as slack:
        yield jira, slack


class TestClientTimeouts:
    """Both gateways built from settings give up after the configured timeout."""

    def test_jira_call_slower_than_the_timeout_fails_transiently(
        self, stand_ins: tuple[JiraSandbox, SlackSandbox]
    ) -> None:
        """A 3 s answer against a 1 s timeout: a JiraError without status, worth retrying."""
        jira, slack = stand_ins
        settings = load_settings({**_env(jira, slack), "GOVFLOW_HTTP_TIMEOUT_SECONDS": "1"})
        gateway = JiraGateway.from_settings(settings)
        gateway.fields()  # builds the client (serverInfo) before the fault is armed
        jira.add_fault("POST issue/{key}/comment", Fault(FaultKind.LATENCY, delay=3.0))
        with pytest.raises(IntegrationError) as caught:
            gateway.add_comment("MODREQ-1", "slow")
        assert caught.value.status is None and caught.value.transient

    def test_slack_call_slower_than_the_timeout_fails_transiently(
        self, stand_ins: tuple[JiraSandbox, SlackSandbox]
    ) -> None:
        """A 3 s answer against a 1 s timeout: a SlackError without status."""
        jira, slack = stand_ins
        settings = load_settings({**_env(jira, slack), "GOVFLOW_HTTP_TIMEOUT_SECONDS": "1"})
        # auth.test changes nothing, so the gateway resends it once after a timeout.
        slack.add_fault("auth.test", Fault(FaultKind.LATENCY, delay=3.0), times=2)
        with pytest.raises(IntegrationError) as caught:
            slack_gateway(settings).bot_user_id()
        assert caught.value.status is None and caught.value.transient

    def test_the_default_is_thirty_seconds(self) -> None:
        """Unset, the timeout is the clients' usual 30 s."""
        assert load_settings({}).http_timeout_seconds == 30


def _env(jira: JiraSandbox, slack: SlackSandbox) -> dict[str, str]:
    user, token = jira.credentials
    return {
        "GOVFLOW_JIRA_URL": jira.url,
        "GOVFLOW_JIRA_USER": user,
        "GOVFLOW_JIRA_TOKEN": token,
        "GOVFLOW_SLACK_BOT_TOKEN": slack.bot_token,
        "GOVFLOW_SLACK_SIGNING_SECRET": "timeouts-signing-secret",
        "GOVFLOW_SLACK_API_URL": slack.api_url,
    }
