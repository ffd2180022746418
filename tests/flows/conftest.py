"""Fixtures for flow tests: seeded stand-ins and the environment pointing govflow at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from govflow.runtime import dispose_engines
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from tests.support.stand_ins import govflow_environment


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    """A seeded Jira stand-in on a free port."""
    with JiraSandbox(seed=True) as sandbox:
        yield sandbox


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    """A seeded Slack stand-in on a free port."""
    with SlackSandbox(seed=True) as sandbox:
        yield sandbox


@pytest.fixture
def pipeline_env(
    monkeypatch: pytest.MonkeyPatch,
    prefect_api: str,
    jira: JiraSandbox,
    slack: SlackSandbox,
    ledger: Engine,
    database_url: str,
) -> Iterator[dict[str, str]]:
    """Process environment for running flows against the stand-ins and a migrated ledger."""
    env = govflow_environment(jira, slack, database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    dispose_engines()
