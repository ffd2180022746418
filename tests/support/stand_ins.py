"""Environment for running govflow's flows against the stand-ins and a test ledger."""

from __future__ import annotations

from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox


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
