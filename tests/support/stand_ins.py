"""Environment for running govflow's flows against the stand-ins and a test ledger."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault, FaultKind
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox

# Slack failing a call, for `pytest.mark.parametrize("fault", SLACK_FAILING)`: down (503), and
# throttling with a Retry-After longer than any intake should wait (429).
SLACK_FAILING = [
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=503), id="503"),
    pytest.param(Fault(FaultKind.RATE_LIMIT, status=429, retry_after=30), id="429"),
]


def govflow_environment(
    jira: JiraSandbox, slack: SlackSandbox, database_url: str
) -> dict[str, str]:
    """The GOVFLOW_* variables that point the pipeline at these stand-ins and this ledger."""
    user, token = jira.credentials
    return {
        "GOVFLOW_JIRA_URL": jira.url,
        "GOVFLOW_JIRA_USER": user,
        "GOVFLOW_JIRA_TOKEN": token,
        "GOVFLOW_SLACK_BOT_TOKEN": slack.bot_token,
        "GOVFLOW_SLACK_API_URL": slack.api_url,
        "GOVFLOW_SLACK_SIGNING_SECRET": "test-signing-secret",
        "GOVFLOW_DATABASE_URL": database_url,
    }
