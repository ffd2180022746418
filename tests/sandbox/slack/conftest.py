"""Fixtures for the Slack stand-in tests: a server per module wiped per test; the spec once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.slack import SlackSandbox
from tests.sandbox.slack.slack_spec import SPEC_PATH, SlackSpec


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


@pytest.fixture(scope="session")
def slack_spec() -> SlackSpec:
    """Slack's published Web API spec, read once per test session."""
    if not SPEC_PATH.exists():
        pytest.skip(f"Slack spec not found at {SPEC_PATH}")
    return SlackSpec.load()
