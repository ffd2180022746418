"""Fixtures for the Slack stand-in tests: one server per module, wiped before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.slack import SlackSandbox


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
