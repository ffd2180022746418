"""Jira webhooks arrive in any order: an older version of a ticket never undoes a newer one."""

from __future__ import annotations

import json

from sqlalchemy import select

from integrations.db.models import RequestRow
from sandbox.jira.webhooks import signature
from tests.receiver.support import WEBHOOK_SECRET, Stack, audits
from tests.receiver.test_jira_webhooks import complete_fields, post


class TestOrder:
    """Deliveries out of order, as Jira's concurrent webhook senders make them."""

    def test_an_older_version_arriving_late_does_not_undo_a_newer_one(self, stack: Stack) -> None:
        """Webhooks come in any order: the creation delivered after the edit changes nothing."""
        stack.jira.deliver_webhooks = False
        key = stack.jira.file_issue(
            reporter="chloe.tan@example.com", fields=complete_fields("Refurbished phones in SG")
        )
        stack.jira.advance_clock(60)
        stack.jira.edit_fields(key, {"Summary": "Refurbished phones in SG and MY"})
        created, updated = [
            d for d in stack.jira.webhook_deliveries() if d.payload["issue"]["key"] == key
        ]
        assert (created.event, updated.event) == ("jira:issue_created", "jira:issue_updated")

        answers = []
        for delivery in (updated, created):
            body = json.dumps(delivery.payload).encode()
            headers = {
                "X-Hub-Signature": signature(WEBHOOK_SECRET, body),
                "X-Atlassian-Webhook-Identifier": delivery.identifier,
            }
            answers.append(post(stack, body, headers).json()["outcome"])

        assert answers == ["intake", "unchanged"]
        with stack.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
            assert row is not None
            assert row.summary == "Refurbished phones in SG and MY"
        [ignored] = audits(stack, "stale_ticket_ignored")
        assert ignored.detail["known"] > ignored.detail["updated"]
