"""Jira webhooks read into plain values: pure functions, raising only PayloadInvalid.

A webhook body is JSON with `webhookEvent`; govflow acts on three kinds:
- `jira:issue_created` / `jira:issue_updated`: the full `issue` (as GET issue returns it)
  and, on updates, `changelog.items`;
- `comment_created`: the `comment` (author, body) and its `issue`.
Anything else parses as `OtherEvent`, which the receiver acknowledges and ignores.

`verify_signature` checks `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`
in constant time and raises SignatureInvalid; it is separate from parsing, which must only
ever see a body whose signature has been checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import PayloadInvalid, SignatureInvalid
from integrations.jira.mapping import ACCOUNT_ID, EMAIL, adf_text, matching
from integrations.text import clean_text

ISSUE_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated"})
COMMENT_CREATED = "comment_created"
# Jira caps a comment at 32,767 characters; an ADF rendering of one stays well inside this.
MAX_BODY = 32_767
MAX_PAYLOAD = 5_000_000
_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}")
_ID = re.compile(r"[0-9]{1,18}")
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class IssueChanged:
    """An issue was created or its fields changed; `issue` is Jira's issue JSON."""

    event: str
    key: str
    issue: Mapping[str, Any]
    changed_fields: tuple[str, ...]
    type_name: str = ""


@dataclass(frozen=True)
class CommentCreated:
    """Someone commented on an issue."""

    key: str
    comment_id: str
    body: str
    author_account_id: str | None
    author_email: str | None
    author_name: str


@dataclass(frozen=True)
class OtherEvent:
    """A webhook govflow does not act on (named by its `webhookEvent`)."""

    event: str


JiraWebhook = IssueChanged | CommentCreated | OtherEvent


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Check Jira's `X-Hub-Signature` over the raw body; raise SignatureInvalid if it fails."""
    if not header:
        raise SignatureInvalid("missing X-Hub-Signature")
    found = _SIGNATURE.fullmatch(header.strip())
    if found is None:
        raise SignatureInvalid("malformed X-Hub-Signature")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, found.group(1).lower()):
        raise SignatureInvalid("X-Hub-Signature does not match the body")


def parse_webhook(body: bytes) -> JiraWebhook:
    """Read a webhook body; PayloadInvalid when it is not a webhook we can read."""
    if len(body) > MAX_PAYLOAD:
        raise PayloadInvalid("the webhook body is larger than govflow accepts")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadInvalid("the webhook body is not JSON") from exc
    if not isinstance(data, Mapping):
        raise PayloadInvalid("the webhook body is not a JSON object")
    event = data.get("webhookEvent")
    if not isinstance(event, str) or not event or len(event) > 100:
        raise PayloadInvalid("the webhook names no webhookEvent")
    if event in ISSUE_EVENTS:
        return _issue_changed(event, data)
    if event == COMMENT_CREATED:
        return _comment_created(data)
    return OtherEvent(event=event)


def _issue_changed(event: str, data: Mapping[str, Any]) -> IssueChanged:
    issue = _mapping(data.get("issue"), "issue")
    key = _matching(issue.get("key"), _KEY, "issue.key")
    _matching(issue.get("id"), _ID, "issue.id")
    if not isinstance(issue.get("fields"), Mapping):
        raise PayloadInvalid("issue.fields is missing or not an object")
    changelog = data.get("changelog")
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    changed: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            name = item.get("fieldId") or item.get("field")
            if isinstance(name, str) and name:
                changed.append(name[:200])
    type_name = data.get("issue_event_type_name")
    return IssueChanged(
        event=event,
        key=key,
        issue=issue,
        changed_fields=tuple(changed),
        type_name=type_name[:60] if isinstance(type_name, str) else "",
    )


def _comment_created(data: Mapping[str, Any]) -> CommentCreated:
    issue = _mapping(data.get("issue"), "issue")
    comment = _mapping(data.get("comment"), "comment")
    author = comment.get("author")
    author = author if isinstance(author, Mapping) else {}
    return CommentCreated(
        key=_matching(issue.get("key"), _KEY, "issue.key"),
        comment_id=_matching(comment.get("id"), _ID, "comment.id"),
        body=_body(comment.get("body")),
        # Jira hides an email the user keeps private: the field is absent or "".
        author_account_id=matching(author.get("accountId"), ACCOUNT_ID),
        author_email=matching(author.get("emailAddress"), EMAIL),
        author_name=_display_name(author.get("displayName")),
    )


def _body(raw: Any) -> str:
    """A comment body: v2 wiki markup as is, v3 ADF as its text; bounded."""
    if isinstance(raw, str):
        text = clean_text(raw)
    elif isinstance(raw, Mapping):
        text = adf_text(raw)
    elif raw is None:
        text = ""
    else:
        raise PayloadInvalid("comment.body is neither text nor a document")
    return text[:MAX_BODY]


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadInvalid(f"{what} is missing or not an object")
    return value


def _matching(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PayloadInvalid(f"{what} is missing or malformed")
    return value


def _display_name(value: Any) -> str:
    return clean_text(value).strip()[:200] if isinstance(value, str) else ""
