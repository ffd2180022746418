"""Hostile and malformed input against the live receiver: never a 500, never a traceback.

Every refusal (4xx) leaves an audit record; see test_hostile.py for the map of issue #6's
hostile-input points to tests.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from integrations.db.models import AuditRow
from integrations.slack.action_ids import ActionId
from sandbox.jira.webhooks import signature
from tests.receiver.support import (
    HANNAH,
    PRODUCT_CHANNEL,
    WEBHOOK_SECRET,
    Stack,
    make_request,
    post_approval_card,
)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    # The same examples on every run: CI is not flaky, and a failure reproduces.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLACK_KEYS = [
    "payload",
    "command",
    "text",
    "user_id",
    "channel_id",
    "team_id",
    "ssl_check",
    "token",
    "trigger_id",
    "response_url",
    "authorizations",
    "user",
    "is_enterprise_install",
]
PAYLOAD_KEYS = [
    "type",
    "user",
    "team",
    "enterprise",
    "channel",
    "container",
    "message",
    "view",
    "actions",
    "authorizations",
    "trigger_id",
    "is_enterprise_install",
    "api_app_id",
    "state",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
payloads = (
    st.dictionaries(
        st.sampled_from(PAYLOAD_KEYS) | st.text(max_size=10),
        json_values,
        max_size=8,
    )
    .map(lambda d: d)
    .flatmap(
        lambda d: st.sampled_from(
            [
                "block_actions",
                "view_submission",
                "view_closed",
                "shortcut",
                "block_suggestion",
                None,
            ]
        ).map(lambda kind: {**d, "type": kind} if kind else d)
    )
)


def audit_total(stack: Stack) -> int:
    """How many audit records the ledger holds."""
    with stack.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)


def refusal_audited(stack: Stack, before: int, status: int | None) -> bool:
    """A refusal (4xx) left at least one audit record; anything else need not."""
    return status is None or status < 400 or audit_total(stack) > before


def answered_sanely(status: int | None, body: str) -> bool:
    """A status Slack can live with, and no Python internals in the body."""
    return status is not None and status < 500 and "Traceback" not in body


class TestSlackFuzz:
    """Correctly signed junk reaches parsing; parsing must hold."""

    @FUZZ
    @given(
        fields=st.dictionaries(
            st.sampled_from(SLACK_KEYS) | st.text(max_size=10), st.text(max_size=60), max_size=6
        )
    )
    def test_form_bodies(self, stack: Stack, fields: dict[str, str]) -> None:
        """Any form, signed: 200 or 400."""
        before = audit_total(stack)
        answer = stack.slack.deliver_raw(urlencode(fields))
        assert answer.status in (200, 400), answer.body
        assert answer_ok(answer.status, answer.body)
        assert refusal_audited(stack, before, answer.status)

    @FUZZ
    @given(
        body=st.binary(max_size=300),
        content_type=st.sampled_from(
            ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
        ),
    )
    def test_raw_bodies(self, stack: Stack, body: bytes, content_type: str) -> None:
        """Arbitrary bytes, signed over the raw body: never a 500."""
        before = audit_total(stack)
        answer = stack.slack.deliver_raw(body, content_type=content_type)
        assert answer_ok(answer.status, answer.body)
        assert refusal_audited(stack, before, answer.status)

    @FUZZ
    @given(payload=payloads)
    def test_json_payloads(self, stack: Stack, payload: dict[str, Any]) -> None:
        """Arbitrary JSON in `payload=`: never a 500."""
        before = audit_total(stack)
        answer = stack.slack.deliver_raw(urlencode({"payload": json.dumps(payload)}))
        assert answer_ok(answer.status, answer.body)
        assert refusal_audited(stack, before, answer.status)

    @FUZZ
    @given(data=st.data())
    def test_mutated_real_clicks(self, stack: Stack, data: st.DataObject) -> None:
        """A genuine click with one part replaced by junk: never a 500."""
        if not hasattr(stack, "_fuzz_click"):
            _, state = make_request(stack, "MODREQ-77", signoff=True)
            ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
            stack._fuzz_click = stack.slack.interactivity.block_actions_payload(  # type: ignore[attr-defined]
                PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id
            )
        payload = copy.deepcopy(stack._fuzz_click)  # type: ignore[attr-defined]
        path = data.draw(st.sampled_from(list(_paths(payload))))
        _replace(payload, path, data.draw(json_values))
        before = audit_total(stack)
        answer = stack.slack.deliver_raw(urlencode({"payload": json.dumps(payload)}))
        assert answer_ok(answer.status, answer.body)
        assert refusal_audited(stack, before, answer.status)


class TestJiraFuzz:
    """Correctly signed junk to the webhook route: 200, 400 or 503, never a 500."""

    @FUZZ
    @given(
        event=st.sampled_from(["jira:issue_created", "jira:issue_updated", "comment_created", "x"]),
        rest=st.dictionaries(
            st.sampled_from(["issue", "comment", "changelog", "user", "timestamp"]),
            json_values,
            max_size=5,
        ),
    )
    def test_json_webhooks(self, stack: Stack, event: str, rest: dict[str, Any]) -> None:
        """Any JSON with a webhookEvent, signed: never a 500."""
        body = json.dumps({"webhookEvent": event, **rest}).encode()
        before = audit_total(stack)
        answer = httpx.post(
            f"{stack.url}/jira/webhook",
            content=body,
            headers={"X-Hub-Signature": signature(WEBHOOK_SECRET, body)},
            timeout=10,
        )
        assert answer.status_code in (200, 400), answer.text
        assert answer_ok(answer.status_code, answer.text)
        assert refusal_audited(stack, before, answer.status_code)

    @FUZZ
    @given(body=st.binary(max_size=300))
    def test_raw_webhooks(self, stack: Stack, body: bytes) -> None:
        """Arbitrary bytes, signed: 400, or 200 if they happen to be a webhook."""
        before = audit_total(stack)
        answer = httpx.post(
            f"{stack.url}/jira/webhook",
            content=body,
            headers={"X-Hub-Signature": signature(WEBHOOK_SECRET, body)},
            timeout=10,
        )
        assert answer_ok(answer.status_code, answer.text)
        assert refusal_audited(stack, before, answer.status_code)


def answer_ok(status: int | None, body: str) -> bool:
    """Alias kept short for the assertions above."""
    return answered_sanely(status, body)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _replace(root: Any, path: tuple[Any, ...], new: Any) -> None:
    target = root
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
