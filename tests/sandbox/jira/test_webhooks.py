"""Webhooks from the Jira stand-in, as Jira Cloud posts them: payloads, headers, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from jira import JIRA
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.jira.control import RemoteJiraSandbox
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer

SECRET = "webhook-test-secret"
REPORTER = "chloe.tan@example.com"


@dataclass
class Hook:
    """A fake webhook receiver: what it got, and the statuses it answers with, in turn."""

    url: str = ""
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, event: str | None = None) -> list[dict[str, Any]]:
        """Received payloads (of one webhookEvent), oldest first."""
        with self.lock:
            decoded = [json.loads(body) for _, body in self.got]
        return [d for d in decoded if event in (None, d["webhookEvent"])]


@pytest.fixture
def hook(sandbox: JiraSandbox) -> Iterator[Hook]:
    """The module's stand-in posting its webhooks to a fresh fake receiver."""
    received = Hook()

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        with received.lock:
            received.got.append((dict(request.headers), body))
            status = received.statuses.pop(0) if received.statuses else 200
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])
    with ThreadedServer(app) as server:
        received.url = f"{server.url}/hook"
        sandbox.configure_webhook(received.url, SECRET, retry_delays=(0.01, 0.02, 0.03))
        sandbox.deliver_webhooks = True
        try:
            yield received
        finally:
            sandbox.flush_webhooks()
            sandbox.configure_webhook(None, None)
            sandbox.state.webhooks.forget()


def issue_fields() -> dict[str, Any]:
    """A small valid ticket."""
    return {"Summary": "Webhook test ticket", "Description": "Something to change."}


class TestPayloads:
    """Event kinds and their JSON."""

    def test_issue_created(self, sandbox: JiraSandbox, client: JIRA, hook: Hook) -> None:
        """Creating through REST posts jira:issue_created with the full issue."""
        issue = client.create_issue(
            project="MODREQ", summary="Created over REST", issuetype={"name": "Request"}
        )
        sandbox.flush_webhooks()

        [created] = hook.bodies("jira:issue_created")
        assert created["issue_event_type_name"] == "issue_created"
        assert isinstance(created["timestamp"], int) and created["timestamp"] > 1_600_000_000_000
        assert created["user"]["emailAddress"] == sandbox.credentials[0]
        assert created["issue"]["key"] == issue.key
        assert created["issue"]["fields"]["summary"] == "Created over REST"
        assert created["issue"]["self"].endswith(f"/rest/api/2/issue/{issue.id}")
        assert "changelog" not in created

    def test_field_edit_carries_changelog_items(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """An edit posts jira:issue_updated with what changed."""
        key = sandbox.file_issue(reporter=REPORTER, fields=issue_fields())
        sandbox.flush_webhooks()

        sandbox.edit_fields(key, {"Summary": "Edited summary"}, by=REPORTER)
        sandbox.flush_webhooks()

        [updated] = hook.bodies("jira:issue_updated")
        assert updated["issue_event_type_name"] == "issue_updated"
        [item] = updated["changelog"]["items"]
        assert (item["fieldId"], item["toString"]) == ("summary", "Edited summary")
        assert updated["user"]["emailAddress"] == REPORTER
        assert updated["issue"]["fields"]["summary"] == "Edited summary"

    def test_status_move(self, sandbox: JiraSandbox, client: JIRA, hook: Hook) -> None:
        """A transition is an issue_generic update with the status change."""
        key = sandbox.file_issue(reporter=REPORTER, fields=issue_fields())

        client.transition_issue(key, "In review")
        sandbox.flush_webhooks()

        [moved] = hook.bodies("jira:issue_updated")
        assert moved["issue_event_type_name"] == "issue_generic"
        assert moved["changelog"]["items"][0]["toString"] == "In review"

    def test_comment(self, sandbox: JiraSandbox, client: JIRA, hook: Hook) -> None:
        """A comment posts comment_created and an issue_commented update."""
        key = sandbox.file_issue(reporter=REPORTER, fields=issue_fields())

        comment = client.add_comment(key, "A question for you")
        sandbox.flush_webhooks()

        [created] = hook.bodies("comment_created")
        assert created["comment"]["id"] == comment.id
        assert created["comment"]["body"] == "A question for you"
        assert created["comment"]["author"]["emailAddress"] == sandbox.credentials[0]
        assert created["issue"]["key"] == key
        [commented] = hook.bodies("jira:issue_updated")
        assert commented["issue_event_type_name"] == "issue_commented"
        assert commented["comment"]["id"] == comment.id


class TestDelivery:
    """Headers, signing, retries, pausing."""

    def test_headers_and_signature(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """X-Hub-Signature is the HMAC-SHA256 of the raw body; an identifier names it."""
        sandbox.file_issue(reporter=REPORTER, fields=issue_fields())
        sandbox.flush_webhooks()

        headers, body = hook.got[-1]
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-hub-signature"] == f"sha256={expected}"
        assert headers["x-atlassian-webhook-identifier"]
        assert "x-atlassian-webhook-retry" not in headers
        assert headers["content-type"].startswith("application/json")

    def test_retries_keep_the_identifier(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """5xx answers are retried with the same identifier and a retry count."""
        hook.statuses = [503, 500]
        sandbox.file_issue(reporter=REPORTER, fields=issue_fields())
        sandbox.flush_webhooks()

        identifiers = [h["x-atlassian-webhook-identifier"] for h, _ in hook.got]
        assert len(identifiers) == 3 and len(set(identifiers)) == 1
        assert [h.get("x-atlassian-webhook-retry") for h, _ in hook.got] == [None, "1", "2"]
        [delivery] = sandbox.webhook_deliveries()[-1:]
        assert [a.status for a in delivery.attempts] == [503, 500, 200]
        assert delivery.delivered

    def test_client_errors_are_not_retried(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """A 400 or 401 is final, as Jira treats it."""
        hook.statuses = [401]
        sandbox.file_issue(reporter=REPORTER, fields=issue_fields())
        sandbox.flush_webhooks()

        assert len(hook.got) == 1
        assert not sandbox.webhook_deliveries()[-1].delivered

    def test_paused_deliveries_wait_for_flush(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """With delivery off nothing is posted until the test flushes."""
        sandbox.deliver_webhooks = False
        sandbox.file_issue(reporter=REPORTER, fields=issue_fields())

        assert hook.got == []
        sandbox.flush_webhooks()
        assert len(hook.got) == 1
        assert not sandbox.deliver_webhooks

    def test_unsigned_without_a_secret(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """No secret configured: no X-Hub-Signature, as for a webhook registered without one."""
        sandbox.configure_webhook(hook.url, None)
        sandbox.file_issue(reporter=REPORTER, fields=issue_fields())
        sandbox.flush_webhooks()

        assert "x-hub-signature" not in hook.got[-1][0]

    def test_remote_control(self, sandbox: JiraSandbox, hook: Hook) -> None:
        """The same configuration, pausing and log over `/_sandbox/webhook...`."""
        remote = RemoteJiraSandbox(sandbox.url)
        try:
            remote.configure_webhook(hook.url, SECRET, events=["comment_created"])
            remote.deliver_webhooks = False
            key = remote.file_issue(reporter=REPORTER, fields=issue_fields())
            remote.comment_as(key, REPORTER, "hello")
            assert hook.got == []
            remote.flush_webhooks()
            deliveries = remote.webhook_deliveries()
            paused = remote.deliver_webhooks
        finally:
            remote.close()

        assert [b["webhookEvent"] for b in hook.bodies()] == ["comment_created"]
        assert deliveries[-1].event == "comment_created" and deliveries[-1].delivered
        assert paused is False
