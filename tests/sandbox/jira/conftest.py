"""Fixtures for the Jira stand-in's tests: a seeded stand-in, the real client, the spec."""

from __future__ import annotations

import copy
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
def jira_spec_dict() -> dict[str, Any]:
    """The published Jira Cloud OpenAPI document, read once (it is 2.4 MB)."""
    document: dict[str, Any] = json.loads(SPEC.read_text())
    return document


# Where the spec's schema contradicts what Jira Cloud sends, and its own examples say so.
ERRATA = {
    # The example of GET /rest/api/3/issue/{id}/changelog has `"from": null, "to": null`
    # for a labels change; the ChangeDetails schema says non-nullable strings.
    ("ChangeDetails", "from"): "nullable",
    ("ChangeDetails", "to"): "nullable",
}


def apply_errata(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec with the ERRATA applied."""
    patched = copy.deepcopy(document)
    for (schema, prop), fix in ERRATA.items():
        assert fix == "nullable"
        patched["components"]["schemas"][schema]["properties"][prop]["nullable"] = True
    return patched


@pytest.fixture(scope="session")
def jira_spec(jira_spec_dict: dict[str, Any]) -> Any:
    """The spec (with ERRATA) as an openapi-core validator, built once per session."""
    from openapi_core import Config, OpenAPI

    # Spec validation off: one enum default in Atlassian's spec is not in its own enum.
    return OpenAPI.from_dict(apply_errata(jira_spec_dict), config=Config(spec_validator_cls=None))
