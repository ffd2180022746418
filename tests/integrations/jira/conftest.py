"""Fixtures for the Jira gateway's tests: a seeded stand-in over HTTP and gateways onto it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.jira.gateway import JiraGateway
from sandbox.jira_server import JiraSandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JiraSandbox]:
    """A seeded Jira stand-in for the module."""
    with JiraSandbox(seed=True) as running:
        yield running


@pytest.fixture
def jira(sandbox: JiraSandbox) -> Iterator[JiraSandbox]:
    """The module's stand-in with a clean request log and no faults, for one test."""
    sandbox.clear_requests()
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


@pytest.fixture
def gateway(jira: JiraSandbox) -> Iterator[JiraGateway]:
    """A gateway without client retries (the library sleeps 10 s and up between them)."""
    gateway = JiraGateway(jira.url, *jira.credentials, max_retries=0, timeout=5, page_size=20)
    yield gateway
    gateway.close()
