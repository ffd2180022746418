"""Fixtures for gateway tests: a module-wide Slack stand-in and gateways pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator

from integrations.slack.gateway import SlackGateway
from sandbox.slack import SlackSandbox

GatewayFactory = Callable[..., SlackGateway]


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSandbox]:
    """A seeded Slack stand-in serving for the whole module."""
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def slack(slack_server: SlackSandbox) -> SlackSandbox:
    """The module's stand-in with no messages, views, calls or faults left from other tests."""
    slack_server.reset()
    return slack_server


@pytest.fixture
def make_gateway(slack: SlackSandbox) -> GatewayFactory:
    """Build a gateway on the stand-in; retry waits are 10 ms so retries cost no time."""

    def make(**overrides: object) -> SlackGateway:
        options: dict[str, object] = {
            "base_url": slack.api_url,
            "timeout": 5,
            "retry_interval": FixedValueRetryIntervalCalculator(0.01),
            **overrides,
        }
        token = str(options.pop("token", slack.bot_token))
        return SlackGateway(token, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> SlackGateway:
    """A gateway with default retry counts on the stand-in."""
    return make_gateway()
