"""A live receiver for each test: served over HTTP, backed by a migrated ledger, with the
Jira and Slack stand-ins delivering to it as Jira and Slack would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from config.loader import load_rules
from config.settings import DEFAULT_RULES, load_settings
from domain.rules import Rules
from govflow.receiver import create_app
from govflow.runtime import Runtime
from integrations.db.engine import make_sessionmaker
from integrations.jira.gateway import JiraGateway
from integrations.slack.gateway import SlackGateway
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from tests.receiver.support import (
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    RecordingTrigger,
    Stack,
)


@pytest.fixture(scope="session")
def rules() -> Rules:
    """The shipped rules (their rosters name the Slack stand-in's seeded people)."""
    return load_rules(DEFAULT_RULES)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSandbox]:
    """A seeded Slack stand-in for the module."""
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def jira_server() -> Iterator[JiraSandbox]:
    """A seeded Jira stand-in for the module."""
    with JiraSandbox(seed=True) as sandbox:
        yield sandbox


def settings_for(jira: JiraSandbox, slack: SlackSandbox, database_url: str) -> dict[str, str]:
    """GOVFLOW_* variables pointing at the stand-ins and the test ledger."""
    user, token = jira.credentials
    return {
        "GOVFLOW_JIRA_URL": jira.url,
        "GOVFLOW_JIRA_USER": user,
        "GOVFLOW_JIRA_TOKEN": token,
        "GOVFLOW_JIRA_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GOVFLOW_SLACK_BOT_TOKEN": slack.bot_token,
        "GOVFLOW_SLACK_API_URL": slack.api_url,
        "GOVFLOW_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "GOVFLOW_DATABASE_URL": database_url,
    }


@pytest.fixture
def stack(
    ledger: Engine,
    database_url: str,
    rules: Rules,
    slack_server: SlackSandbox,
    jira_server: JiraSandbox,
) -> Iterator[Stack]:
    """The receiver served in-process, the stand-ins configured to deliver to it."""
    slack_server.reset()
    settings = load_settings(settings_for(jira_server, slack_server, database_url))
    user, token = jira_server.credentials
    runtime = Runtime(
        settings=settings,
        rules=rules,
        engine=ledger,
        sessions=make_sessionmaker(ledger),
        jira=JiraGateway(jira_server.url, user, token, max_retries=0, timeout=10),
        slack=SlackGateway(slack_server.bot_token, base_url=slack_server.api_url),
    )
    trigger = RecordingTrigger()
    app = create_app(runtime, advance=trigger)
    with ThreadedServer(app) as server:
        slack_server.configure_receiver(f"{server.url}/slack/events", SIGNING_SECRET)
        jira_server.configure_webhook(
            f"{server.url}/jira/webhook", WEBHOOK_SECRET, retry_delays=(0.05, 0.1)
        )
        jira_server.deliver_webhooks = True
        try:
            yield Stack(
                url=server.url,
                slack=slack_server,
                jira=jira_server,
                sessions=runtime.sessions,
                rules=rules,
                trigger=trigger,
                app=app,
            )
        finally:
            jira_server.flush_webhooks()
            jira_server.configure_webhook(None, None)
            jira_server.state.webhooks.forget()
            slack_server.configure_receiver(None, "")
