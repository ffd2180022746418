"""Replayed deliveries record nothing new (issue #6, item 4), on SQLite and PostgreSQL.

A replay is a delivery someone captured and sends again while its signature still holds:
for Slack inside the 5-minute window (after it, the signature is stale: 401), for Jira at
any time (its `X-Hub-Signature` covers the body only, and `X-Atlassian-Webhook-Identifier`
is not signed, so a replay may come under a new identifier). Each test takes a snapshot of
everything govflow records (events, decisions in the request state, audit records, outbox
rows, advance triggers) before the replay and compares it after: nothing new.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from govflow.advance import advance_request
from govflow.effects import EffectContext
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow
from integrations.slack.action_ids import ActionId
from sandbox.jira import seed
from tests.receiver.support import (
    HANNAH,
    PRODUCT_CHANNEL,
    REQUESTER,
    Stack,
    audits,
    detail,
    events,
    make_request,
    post_approval_card,
)
from tests.receiver.test_hostile import issue_webhook, post_webhook
from tests.receiver.test_jira_webhooks import complete_fields, waiting_request
from tests.support.waiting import eventually


@dataclass(frozen=True)
class Snapshot:
    """Everything govflow records, in a form two moments can be compared in."""

    events: list[tuple[str, str]]
    audits: list[tuple[str, str]]
    outbox: list[str]
    requests: list[tuple[str, str, Any, Any]]
    triggered: list[int]


def snapshot(stack: Stack) -> Snapshot:
    """What the ledger and the advance trigger hold now."""
    triggered = stack.triggered()
    with stack.sessions.begin() as session:
        return Snapshot(
            events=[(e.kind, e.dedupe_key) for e in session.scalars(select(EventRow))],
            audits=[(a.action, a.actor) for a in session.scalars(select(AuditRow))],
            outbox=[o.idempotency_key for o in session.scalars(select(OutboxRow))],
            requests=[
                (r.jira_key, r.stage, r.state, r.facts) for r in session.scalars(select(RequestRow))
            ],
            triggered=triggered,
        )


def issue_fields(summary: str, **changes: Any) -> dict[str, Any]:
    """A complete ticket's fields as Jira's issue JSON carries them (options as objects)."""
    options = {seed.REQUEST_TYPE, seed.DOMAIN, seed.MARKET}
    fields: dict[str, Any] = {}
    for name, value in complete_fields(summary).items():
        if name == "Priority":
            fields["priority"] = {"name": value}
        elif name in ("Summary", "Description"):
            fields[name.lower()] = value
        else:
            fields[name] = {"value": value} if name in options else value
    return {**fields, **changes}


def advance_all(stack: Stack, ids: Sequence[int] | None = None) -> None:
    """Apply every recorded event (of the requests `ids`), as the `advance` runs would."""
    context = EffectContext(rules=stack.rules, jira_browse_url="https://jira.example.com")
    if ids is None:
        with stack.sessions.begin() as session:
            ids = list(session.scalars(select(RequestRow.id)))
    for request_id in ids:
        with stack.sessions.begin() as session:
            advance_request(session, request_id, context, datetime.now(UTC))


class TestSlackReplay:
    """A captured Slack request sent again inside its 5-minute window."""

    def click_body(self, stack: Stack, key: str) -> str:
        """The form body of Hannah's approval of a fresh request in sign-off."""
        _, state = make_request(stack, key, signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        payload = stack.slack.interactivity.block_actions_payload(
            PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id
        )
        return urlencode({"payload": json.dumps(payload)})

    def test_identical_replay_of_a_click_records_nothing(self, stack: Stack) -> None:
        """The same bytes, timestamp and signature a minute later: 200, nothing new."""
        body = self.click_body(stack, "MODREQ-61")
        signed_at = int(time.time()) - 60
        first = stack.slack.deliver_raw(body, timestamp=signed_at)
        assert first.status == 200 and len(events(stack, "decide")) == 1
        before = snapshot(stack)

        replay = stack.slack.deliver_raw(body, timestamp=signed_at)

        assert replay.status == 200
        assert snapshot(stack) == before

    def test_replay_after_the_decision_was_applied_records_nothing(self, stack: Stack) -> None:
        """Once advance has counted the approval, a replay adds no event, decision or effect."""
        body = self.click_body(stack, "MODREQ-62")
        signed_at = int(time.time())
        stack.slack.deliver_raw(body, timestamp=signed_at)
        advance_all(stack)
        before = snapshot(stack)
        assert any(s[2]["decisions"] for s in before.requests)

        replay = stack.slack.deliver_raw(body, timestamp=signed_at)
        advance_all(stack)

        assert replay.status == 200
        assert snapshot(stack) == before

    def test_replay_in_a_new_envelope_records_nothing(self, stack: Stack) -> None:
        """The same click re-signed now, with Slack's retry headers: still one event."""
        body = self.click_body(stack, "MODREQ-63")
        stack.slack.deliver_raw(body, timestamp=int(time.time()) - 200)
        before = snapshot(stack)

        replay = stack.slack.deliver_raw(
            body, headers={"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_error"}
        )

        assert replay.status == 200
        assert snapshot(stack) == before

    def test_identical_replay_of_a_modal_submission_records_nothing(self, stack: Stack) -> None:
        """A submitted Reject modal sent again: no second decision."""
        _, state = make_request(stack, "MODREQ-64", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.REJECT, HANNAH.id)
        [view] = eventually(lambda: stack.slack.views(user=HANNAH.id), timeout=5, interval=0.02)
        payload = stack.slack.interactivity.view_submission_payload(
            view.id, HANNAH.id, {"reason": "Grades are unverifiable."}
        )
        body = urlencode({"payload": json.dumps(payload)})
        signed_at = int(time.time())
        assert stack.slack.deliver_raw(body, timestamp=signed_at).status == 200
        before = snapshot(stack)
        assert len(events(stack, "decide")) == 1

        replay = stack.slack.deliver_raw(body, timestamp=signed_at)

        assert replay.status == 200
        assert snapshot(stack) == before

    def test_replay_outside_the_window_is_refused(self, stack: Stack) -> None:
        """The same request signed 301 s ago: 401 and signature_refused, nothing else."""
        body = self.click_body(stack, "MODREQ-65")
        before = snapshot(stack)

        replay = stack.slack.deliver_raw(body, timestamp=int(time.time()) - 301)

        assert replay.status == 401
        [refused] = audits(stack, "signature_refused")
        assert "stale" in detail(refused)["reason"]
        after = snapshot(stack)
        assert after.events == before.events and after.outbox == before.outbox
        assert after.audits == [*before.audits, ("signature_refused", refused.actor)]


class TestJiraReplay:
    """A captured Jira webhook sent again; its signature covers only the body."""

    def test_replay_under_a_new_identifier_records_nothing(self, stack: Stack) -> None:
        """The same signed body with another identifier, or none: a duplicate, nothing new."""
        body = issue_webhook("MODREQ-71", issue_fields("Refurbished phones in SG"))
        first = post_webhook(stack, body, identifier="delivery-1")
        assert first.json()["outcome"] == "intake"
        before = snapshot(stack)

        replays = [post_webhook(stack, body, identifier="forged-2"), post_webhook(stack, body)]

        assert [r.json()["outcome"] for r in replays] == ["duplicate", "duplicate"]
        assert snapshot(stack) == before

    def test_replay_of_an_older_version_does_not_undo_a_newer_one(self, stack: Stack) -> None:
        """v1 (incomplete), v2 (complete, routed), then v1 replayed: the request stays v2."""
        older = issue_webhook("MODREQ-72", issue_fields("Grading labels", **{seed.MARKET: None}))
        newer = issue_webhook(
            "MODREQ-72", issue_fields("Grading labels", updated="2026-11-27T11:00:00.000+0000")
        )
        assert post_webhook(stack, older, identifier="v1").json()["outcome"] == "intake"
        assert post_webhook(stack, newer, identifier="v2").json()["outcome"] == "intake"
        before = snapshot(stack)
        assert [r[1] for r in before.requests] == ["EXPERT_REVIEW"]

        replay = post_webhook(stack, older, identifier="v1-replayed")

        assert replay.json()["outcome"] == "duplicate"
        assert snapshot(stack) == before

    def test_comment_replayed_under_a_new_identifier_records_nothing(self, stack: Stack) -> None:
        """A requester's reply sent again: one RequesterReplied."""
        waiting_request(stack, "MODREQ-1")
        comment = {
            "id": "880",
            "body": "Grades A to C.",
            "author": {"accountId": REQUESTER.jira_account_id, "emailAddress": REQUESTER.email},
        }
        body = json.dumps(
            {
                "webhookEvent": "comment_created",
                "issue": {"id": "1", "key": "MODREQ-1"},
                "comment": comment,
            }
        ).encode()
        assert post_webhook(stack, body, identifier="c-1").json()["outcome"] == "recorded"
        before = snapshot(stack)

        replay = post_webhook(stack, body, identifier="c-2")

        assert replay.json()["outcome"] == "duplicate"
        assert snapshot(stack) == before
