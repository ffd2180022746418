"""Hostile input through the live receiver (issue #6, item 3), on SQLite and PostgreSQL.

Where each point of item 3 is covered (receiver tests run the real app over HTTP):
- Slack payload parsing, fuzzed (any form, raw bytes, JSON payloads, real clicks with one
  part replaced): test_fuzz.py::TestSlackFuzz.
- block_actions, view_submission and slash commands carrying hostile text:
  TestHostileText here.
- Jira webhook parsing, fuzzed: test_fuzz.py::TestJiraFuzz.
- The Jira issue mapping and triage (huge descriptions, wiki markup, ADF bodies, mentions,
  emoji, right-to-left text, NUL, nulls and wrong types in fields): pure, in
  tests/integrations/jira/test_mapping_fuzz.py; through intake and the ledger in
  TestHostileText.test_jira_issue_fields here.
- The config loader: tests/config/test_hostile_input.py.
- Oversized bodies (413 and an audit record, the body never read whole):
  TestOversizedBodies. Bad UTF-8: TestBadUtf8. JSON nested just inside and far beyond the
  recursion limit: TestDeepNesting. Huge strings: TestHugeStrings.
- Never a 500 or a traceback, always a clear error and an audit record: every test here
  checks the status, the answer (`sane`) and the audit trail.
- What the fuzzing found, pinned: TestFoundByFuzzing here and in test_mapping_fuzz.py.

Security (item 4): forged and stale signatures in test_slack_receiver.py::TestSignature,
test_jira_webhooks.py::TestSignature and, fuzzed, TestForgedSignatures here; replays in
test_replay.py; clicks and modal
submissions by people not entitled in test_unentitled_stateful.py; SQL through bound
parameters in tests/architecture/test_sql_bound_parameters.py.
"""

from __future__ import annotations

import itertools
import json
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from integrations.db.models import AuditRow, OutboxRow, RequestRow
from integrations.jira.webhooks import MAX_BODY as JIRA_COMMENT_MAX
from integrations.jira.webhooks import MAX_PAYLOAD
from integrations.slack.action_ids import ActionId
from integrations.slack.receiver import MAX_BODY
from sandbox.jira import seed
from sandbox.jira.webhooks import signature
from tests.receiver.support import (
    FATIMA,
    HANNAH,
    LISTING_CHANNEL,
    PRODUCT_CHANNEL,
    WEBHOOK_SECRET,
    Stack,
    audits,
    detail,
    events,
    make_request,
    post_approval_card,
    post_assignment_card,
)
from tests.support.hostile import adf_docs, hostile_text, json_junk
from tests.support.waiting import eventually

HOSTILE = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
_keys = itertools.count(1000)


def audit_count(stack: Stack, action: str) -> int:
    """How many audit records of this action the ledger holds."""
    with stack.sessions.begin() as session:
        query = select(func.count()).select_from(AuditRow).where(AuditRow.action == action)
        return int(session.scalar(query) or 0)


def sane(status: int | None, body: str) -> None:
    """A status the sender can act on, with a short answer and no Python internals."""
    assert status is not None and status < 500, body[:500]
    assert "Traceback" not in body and 'File "' not in body
    assert len(body) < 5000


def post_webhook(stack: Stack, body: bytes, identifier: str | None = None) -> httpx.Response:
    """A webhook delivery signed with the receiver's secret."""
    headers = {"X-Hub-Signature": signature(WEBHOOK_SECRET, body)}
    if identifier is not None:
        headers["X-Atlassian-Webhook-Identifier"] = identifier
    return httpx.post(f"{stack.url}/jira/webhook", content=body, headers=headers, timeout=30)


def issue_webhook(key: str, fields: dict[str, Any]) -> bytes:
    """An issue_created webhook for `key` with these fields (by name or id) and a reporter."""
    issue = {
        "id": key.rsplit("-", 1)[1],
        "key": key,
        "fields": {
            "reporter": {"accountId": "acc-fuzz", "emailAddress": "fuzz@example.com"},
            "updated": "2026-11-27T10:00:00.000+0000",
            **{seed.FIELD_IDS.get(name, name): value for name, value in fields.items()},
        },
    }
    return json.dumps({"webhookEvent": "jira:issue_created", "issue": issue}).encode()


def raw_exchange(url: str, head: str, body: bytes) -> tuple[int, bytes]:
    """Send `head` and `body` on a raw socket, then read the status and answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        header, _, rest = received.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(header.split(b" ", 2)[1]), rest


class TestOversizedBodies:
    """A body above the limit is refused with 413 before it is read whole."""

    @pytest.mark.parametrize(
        ("path", "limit"), [("/slack/events", MAX_BODY), ("/jira/webhook", MAX_PAYLOAD)]
    )
    def test_declared_oversize_is_refused_unread(self, stack: Stack, path: str, limit: int) -> None:
        """Content-Length of 50 MB, 64 KB actually sent: 413 at once and payload_refused."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {50_000_000}\r\n\r\n"
        )

        status, answer = raw_exchange(stack.url, head, b"x" * 65536)

        assert status == 413
        assert b"larger" in answer
        [refused] = audits(stack, "payload_refused")
        assert detail(refused)["path"] == path
        assert str(limit) in refused.reason
        assert events(stack) == []

    @pytest.mark.parametrize(
        ("path", "limit"), [("/slack/events", MAX_BODY), ("/jira/webhook", MAX_PAYLOAD)]
    )
    def test_streamed_oversize_is_refused(self, stack: Stack, path: str, limit: int) -> None:
        """A chunked body with no Content-Length is cut off once past the limit."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"y" * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        frames = frame * (limit // len(chunk) + 2)

        status, answer = raw_exchange(stack.url, head, frames)

        assert status == 413
        assert b"larger" in answer
        assert len(audits(stack, "payload_refused")) == 1


class TestBadUtf8:
    """Bytes that are not UTF-8: a 4xx naming the problem, and an audit record."""

    def test_slack_body(self, stack: Stack) -> None:
        """Slack signs text, so undecodable bytes cannot carry its signature: 401."""
        answer = stack.slack.deliver_raw(b"payload=\xff\xfe\xfa{}")

        assert answer.status == 401
        sane(answer.status, answer.body)
        assert "UTF-8" in detail(audits(stack, "signature_refused")[0])["reason"]

    def test_slack_payload_with_percent_encoded_junk(self, stack: Stack) -> None:
        """`%FF` inside the form decodes to replacement characters, which are not JSON: 400."""
        answer = stack.slack.deliver_raw("payload=%FF%FE%7B%22type%22%3A%22block_actions%22%7D")

        assert answer.status == 400
        sane(answer.status, answer.body)
        assert audit_count(stack, "payload_refused") == 1

    def test_jira_body(self, stack: Stack) -> None:
        """A signed webhook body that is not UTF-8: 400 and payload_refused."""
        answer = post_webhook(stack, b'{"webhookEvent": "\xff\xfe"}')

        assert answer.status_code == 400
        sane(answer.status_code, answer.text)
        assert audit_count(stack, "payload_refused") == 1


def nested(depth: int, leaf: Any = "x") -> Any:
    """A value nested `depth` lists deep."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_text(depth: int) -> str:
    """The JSON text of a list nested `depth` deep (built as text: json.dumps would recurse)."""
    return "[" * depth + '"x"' + "]" * depth


DEPTHS = [500, 990, 100_000]


def _set(path: tuple[str | int, ...]) -> Any:
    """A function putting the nesting marker at `path` inside a payload."""

    def put(payload: dict[str, Any]) -> None:
        target: Any = payload
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = "@@NESTED@@"

    return put


SLACK_PLACES = {
    "view": _set(("view",)),
    "actions[0].value": _set(("actions", 0, "value")),
    "state": _set(("state",)),
    "message.blocks": _set(("message", "blocks")),
    "user.name": _set(("user", "name")),
}


def _comment_webhook(key: str) -> dict[str, Any]:
    return {
        "webhookEvent": "comment_created",
        "issue": {"id": "1", "key": key},
        "comment": {"id": "7", "body": "@@NESTED@@", "author": {"accountId": "acc-x"}},
    }


def _issue_webhook_with(path: tuple[str, ...]) -> Any:
    def build(key: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(issue_webhook(key, {}))
        _set(path)(data)
        return data

    return build


JIRA_PLACES = {
    "comment.body": _comment_webhook,
    "changelog": _issue_webhook_with(("changelog",)),
    "description": _issue_webhook_with(("issue", "fields", "description")),
    "market": _issue_webhook_with(("issue", "fields", seed.FIELD_IDS[seed.MARKET])),
}


class TestDeepNesting:
    """JSON nested beyond the recursion limit is a 400, never a RecursionError's 500."""

    def test_slack_payload(self, stack: Stack) -> None:
        """Nesting in any part of a click's payload: answered, and audited when refused."""
        _, state = make_request(stack, f"MODREQ-{next(_keys)}", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        for where, depth in itertools.product(SLACK_PLACES, DEPTHS):
            payload = stack.slack.interactivity.block_actions_payload(
                PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id
            )
            SLACK_PLACES[where](payload)
            text = json.dumps(payload).replace('"@@NESTED@@"', nested_text(depth))
            refused_before = audit_count(stack, "payload_refused")

            answer = stack.slack.deliver_raw(urlencode({"payload": text}))

            sane(answer.status, f"{where} {depth}: {answer.body}")
            if answer.status == 400:
                assert audit_count(stack, "payload_refused") == refused_before + 1, (where, depth)

    def test_jira_webhook(self, stack: Stack) -> None:
        """Nesting in an issue field, the changelog or a comment: answered and audited."""
        for where, depth in itertools.product(JIRA_PLACES, DEPTHS):
            data = JIRA_PLACES[where](f"MODREQ-{next(_keys)}")
            body = json.dumps(data).replace('"@@NESTED@@"', nested_text(depth)).encode()
            refused_before = audit_count(stack, "payload_refused")

            answer = post_webhook(stack, body)

            sane(answer.status_code, f"{where} {depth}: {answer.text}")
            assert answer.status_code in (200, 400), (where, depth, answer.text)
            if answer.status_code == 400:
                assert audit_count(stack, "payload_refused") == refused_before + 1, (where, depth)

    def test_deep_adf_description_is_read_to_a_bounded_depth(self, stack: Stack) -> None:
        """ADF 300 paragraphs (600 JSON levels) deep is taken in; text below depth 64 is not."""
        key = f"MODREQ-{next(_keys)}"
        deep = '{"type":"paragraph","content":[' * 300 + '{"type":"text","text":"x"}' + "]}" * 300
        body = issue_webhook(key, {"description": "@@ADF@@"}).replace(
            b'"@@ADF@@"', f'{{"type":"doc","content":[{deep}]}}'.encode()
        )

        answer = post_webhook(stack, body)

        sane(answer.status_code, answer.text)
        assert answer.status_code == 200
        assert audit_count(stack, "webhook_received") == 1
        with stack.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
            assert row is not None and row.facts["values"]["description"] is None


class TestHugeStrings:
    """Strings as large as the body allows: bounded answers, bounded records."""

    def test_huge_description_asks_for_a_shorter_one(self, stack: Stack) -> None:
        """A 4 MB description: taken in, and the requester is told it is too long."""
        key = f"MODREQ-{next(_keys)}"
        fields = {"description": "words " * 700_000, seed.REQUEST_TYPE: {"value": "QA dispute"}}

        answer = post_webhook(stack, issue_webhook(key, fields))

        assert answer.status_code == 200, answer.text
        with stack.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
            assert row is not None and row.stage == "NEEDS_INFO"
            [comment] = session.scalars(select(OutboxRow).where(OutboxRow.kind == "jira_comment"))
            body = comment.payload["body"]
        assert "too long" in body
        assert len(body) <= JIRA_COMMENT_MAX

    def test_huge_reason_in_a_modal(self, stack: Stack) -> None:
        """A 900 KB rejection reason: the modal says what is wrong, or it is recorded bounded."""
        _, state = make_request(stack, f"MODREQ-{next(_keys)}", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.REJECT, HANNAH.id)
        [view] = eventually(lambda: stack.slack.views(user=HANNAH.id), timeout=5, interval=0.02)

        answer = stack.slack.submit_view(view.id, HANNAH.id, {"reason": "no " * 300_000})

        sane(answer.status, answer.body)
        assert answer.status == 200
        assert answer.json()["response_action"] == "errors"
        assert events(stack) == []

    def test_huge_slash_command_text(self, stack: Stack) -> None:
        """`/govflow` with 500 KB of text: the usage, ephemerally, and command_refused."""
        answer = stack.slack.slash(HANNAH.id, "status " + "X" * 500_000)

        sane(answer.status, answer.body)
        assert answer.json()["response_type"] == "ephemeral"
        assert audit_count(stack, "command_refused") == 1


class TestHostileText:
    """Wiki markup, mentions, emoji, RTL, NUL, surrogates through every input, end to end."""

    @HOSTILE
    @given(
        fields=st.dictionaries(
            st.sampled_from(
                [
                    "summary",
                    "description",
                    seed.REQUEST_TYPE,
                    seed.DOMAIN,
                    seed.MARKET,
                    seed.BUSINESS_JUSTIFICATION,
                    seed.AFFECTED_SOP,
                    seed.PROPOSED_CHANGE,
                    "reporter",
                    "priority",
                ]
            ),
            hostile_text | adf_docs | json_junk | st.builds(lambda t: {"value": t}, hostile_text),
            max_size=8,
        )
    )
    def test_jira_issue_fields(self, stack: Stack, fields: dict[str, Any]) -> None:
        """Any field values: 200, webhook_received, a request, a comment Jira accepts."""
        key = f"MODREQ-{next(_keys)}"
        received = audit_count(stack, "webhook_received")

        answer = post_webhook(stack, issue_webhook(key, fields))

        sane(answer.status_code, answer.text)
        assert answer.status_code == 200, answer.text
        assert audit_count(stack, "webhook_received") == received + 1
        with stack.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
            assert row is not None
            comments = list(
                session.scalars(
                    select(OutboxRow).where(
                        OutboxRow.request_id == row.id, OutboxRow.kind == "jira_comment"
                    )
                )
            )
        assert len(comments) == 1
        body = comments[0].payload["body"]
        assert len(body) <= JIRA_COMMENT_MAX and "\x00" not in body
        body.encode("utf-8")

    @HOSTILE
    @given(reason=hostile_text)
    def test_modal_text(self, stack: Stack, reason: str) -> None:
        """Any rejection reason: errors in the modal, or one event whose text is storable."""
        if not hasattr(stack, "_hostile_view"):
            _, state = make_request(stack, f"MODREQ-{next(_keys)}", signoff=True)
            ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
            stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.REJECT, HANNAH.id)
            [view] = eventually(lambda: stack.slack.views(user=HANNAH.id), timeout=5, interval=0.02)
            stack._hostile_view = view  # type: ignore[attr-defined]
        view = stack._hostile_view  # type: ignore[attr-defined]
        payload = stack.slack.interactivity.view_submission_payload(view.id, HANNAH.id, {})
        payload["view"]["state"]["values"] = {
            "reason": {"reason": {"type": "plain_text_input", "value": reason}}
        }

        answer = stack.slack.deliver_raw(urlencode({"payload": json.dumps(payload)}))

        sane(answer.status, answer.body)
        assert answer.status == 200
        if answer.body:
            assert answer.json()["response_action"] == "errors"
        for event in events(stack, "decide"):
            assert "\x00" not in event.payload["reason"]
            event.payload["reason"].encode("utf-8")

    @HOSTILE
    @given(text=hostile_text)
    def test_slash_command_text(self, stack: Stack, text: str) -> None:
        """Any `/govflow` text: an ephemeral answer; refused ones are audited."""
        refused = audit_count(stack, "command_refused")

        answer = stack.slack.slash(HANNAH.id, text)

        sane(answer.status, answer.body)
        assert answer.status == 200
        reply = answer.json()
        assert reply["response_type"] == "ephemeral" and reply["text"]
        if "Usage" in reply["text"] and text.split()[:1] not in ([], ["help"], ["HELP"]):
            assert audit_count(stack, "command_refused") == refused + 1

    def test_claim_on_an_assignment_card_with_hostile_user_name(self, stack: Stack) -> None:
        """A clicker's display name full of markup and control characters is recorded safely."""
        _, state = make_request(stack, f"MODREQ-{next(_keys)}")
        ts = post_assignment_card(stack, state, LISTING_CHANNEL)
        payload = stack.slack.interactivity.block_actions_payload(
            LISTING_CHANNEL, ts, ActionId.CLAIM, FATIMA.id
        )
        payload["user"]["name"] = "<!channel> [~admin] \x00\u202e"

        answer = stack.slack.deliver_raw(urlencode({"payload": json.dumps(payload)}))

        sane(answer.status, answer.body)
        [event] = events(stack, "claim")
        assert "\x00" not in json.dumps(event.payload)


class TestFoundByFuzzing:
    """Regressions for what the fuzzing above found (each failed before its fix)."""

    def reject_with(self, stack: Stack, reason: str) -> int | None:
        """Hannah submits the Reject modal with `reason`, as raw JSON; the answer's status."""
        _, state = make_request(stack, f"MODREQ-{next(_keys)}", signoff=True)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)
        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.REJECT, HANNAH.id)
        [view] = eventually(lambda: stack.slack.views(user=HANNAH.id), timeout=5, interval=0.02)
        payload = stack.slack.interactivity.view_submission_payload(view.id, HANNAH.id, {})
        assert payload["enterprise"] is None  # so the receiver re-encodes the payload for Bolt
        payload["view"]["state"]["values"] = {
            "reason": {"reason": {"type": "plain_text_input", "value": "@@REASON@@"}}
        }
        text = json.dumps(payload).replace('"@@REASON@@"', json.dumps(reason))
        answer = stack.slack.deliver_raw(urlencode({"payload": text}))
        sane(answer.status, answer.body)
        return answer.status

    def test_lone_surrogate_in_a_payload_the_receiver_re_encodes(self, stack: Stack) -> None:
        """A "\\ud800" escape made the form encoding raise: a 500. Now the text is recorded."""
        assert self.reject_with(stack, "Grades \ud800 unverifiable") == 200

        [event] = events(stack, "decide")
        assert event.payload["reason"] == "Grades \ufffd unverifiable"

    def test_control_characters_in_modal_text_are_not_recorded(self, stack: Stack) -> None:
        """NUL and other controls are dropped from what a modal records (PostgreSQL refuses NUL)."""
        assert self.reject_with(stack, "Grades\x00 are\x07 unverifiable\x1b") == 200

        [event] = events(stack, "decide")
        assert event.payload["reason"] == "Grades are unverifiable"


class TestForgedSignatures:
    """Any signature header that is not the right one: 401, signature_refused, nothing else."""

    @HOSTILE
    @given(
        signature_header=st.text(max_size=120)
        | st.from_regex(r"v0=[0-9a-f]{64}", fullmatch=True)
        | st.from_regex(r"sha256=[0-9a-fA-F]{64}", fullmatch=True),
        timestamp=st.text(max_size=20) | st.integers(-(2**40), 2**40).map(str),
        route=st.sampled_from(["/slack/events", "/jira/webhook"]),
    )
    def test_forged_headers(
        self, stack: Stack, signature_header: str, timestamp: str, route: str
    ) -> None:
        """Random signatures and timestamps on a real click or webhook body are refused."""
        body = (
            urlencode({"command": "/govflow", "text": "help", "user_id": HANNAH.id}).encode()
            if route == "/slack/events"
            else issue_webhook(f"MODREQ-{next(_keys)}", {})
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Signature": signature_header,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Hub-Signature": signature_header,
        }
        headers = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
        refused = audit_count(stack, "signature_refused")

        answer = httpx.post(f"{stack.url}{route}", content=body, headers=headers, timeout=30)

        sane(answer.status_code, answer.text)
        assert answer.status_code == 401, answer.text
        assert audit_count(stack, "signature_refused") == refused + 1
        assert events(stack) == []
