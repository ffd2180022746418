"""Fixtures for the Jira stand-in's tests: a seeded stand-in, the real client, the spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jira import JIRA

from sandbox.jira_server import JiraSandbox

SPEC = Path("/work/shared/specs/jira-cloud-platform-v3.openapi.json")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JiraSandbox]:
    """A seeded stand-in for the module (tests use their own issues or read-only ones)."""
    with JiraSandbox(seed=True) as running:
        yield running


@pytest.fixture(scope="module")
def client(sandbox: JiraSandbox) -> JIRA:
    """The real `jira` client, without retries (their sleeps are 10 s and up)."""
    return JIRA(sandbox.url, basic_auth=sandbox.credentials, max_retries=0, timeout=10)


@pytest.fixture
def sandbox_clean(sandbox: JiraSandbox) -> Iterator[JiraSandbox]:
    """The module's stand-in with its request log and faults cleared for this test."""
    sandbox.clear_requests()
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


@pytest.fixture(scope="session")
def jira_spec() -> Any:
    """The published Jira Cloud OpenAPI spec, loaded once (it is 2.4 MB)."""
    from openapi_core import Config, OpenAPI

    # Spec validation off: one enum default in Atlassian's spec is not in its own enum.
    return OpenAPI.from_dict(json.loads(SPEC.read_text()), config=Config(spec_validator_cls=None))
