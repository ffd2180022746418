"""Webhooks from the Jira stand-in: what changed, posted to a configured URL as Jira posts it.

`JiraState` notes what each top-level operation did (issue created, fields changed, status
moved, comment added) and, when the operation completes, hands `WebhookSender` one payload
per Jira event, rendered under the state's lock so it is one consistent snapshot:
- `jira:issue_created` / `jira:issue_updated` with `timestamp` (ms), `webhookEvent`,
  `issue_event_type_name`, `user`, the full `issue` (as GET issue returns it) and, on
  updates, `changelog.items`; a comment also yields `jira:issue_updated` with
  `issue_event_type_name: issue_commented` and the `comment`;
- `comment_created` with the `comment` and the `issue`.
Each delivery is a POST in a background thread with Jira's headers: a stable
`X-Atlassian-Webhook-Identifier`, `X-Atlassian-Webhook-Retry: n` on retries, and, when a
secret is set, `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. Like Jira it
retries on 408/409/425/429/5xx, time-outs and refused connections, here after short delays.
Tests can hold deliveries (`paused`) and `flush` them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any

import httpx

from sandbox.jira import render
from sandbox.jira.model import ChangeItem, Comment, Issue, User
from sandbox.jira.tables import JiraTables

EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "comment_created"})
RETRY_STATUSES = frozenset({408, 409, 425, 429})
# Jira retries for about half an hour; a stand-in serving tests retries within a second.
DEFAULT_RETRY_DELAYS = (0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Attempt:
    """One POST of a webhook and how it went (`status` None: no answer)."""

    retry: int
    status: int | None
    error: str | None
    at: float


@dataclass
class WebhookDelivery:
    """One webhook event, its payload and every attempt to deliver it."""

    identifier: str
    event: str
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebhookDelivery:
        """Rebuild from `to_json` output."""
        attempts = [Attempt(**a) for a in data.get("attempts", [])]
        return cls(**{**data, "attempts": attempts})


@dataclass
class Changes:
    """What one operation did to one issue, gathered until the operation completes."""

    actor_id: str
    created: bool = False
    items: list[ChangeItem] = field(default_factory=list)
    history_id: str | None = None
    comments: list[Comment] = field(default_factory=list)


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature` value Jira sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _view(state: JiraTables) -> render.View:
    return render.View(base=state.base_url or "", version="2", zone=UTC)


def _issue_json(state: JiraTables, issue: Issue) -> dict[str, Any]:
    view = _view(state)
    return render.issue(state, view, issue, render.select_fields(state, [], "*all") or [])


def _item_json(item: ChangeItem) -> dict[str, Any]:
    return {
        "field": item.field_name,
        "fieldtype": "custom" if item.field_id.startswith("customfield_") else "jira",
        "fieldId": item.field_id,
        "from": item.from_value,
        "fromString": item.from_string,
        "to": item.to_value,
        "toString": item.to_string,
    }


def payloads(state: JiraTables, issue: Issue, changes: Changes) -> list[tuple[str, dict[str, Any]]]:
    """The webhook events one operation's changes to `issue` make, in Jira's order."""
    view = _view(state)
    actor: User = state.users[changes.actor_id]
    stamp = int(state.now().timestamp() * 1000)
    base = {"timestamp": stamp, "user": render.user(view, actor)}
    out: list[tuple[str, dict[str, Any]]] = []
    if changes.created:
        out.append(
            (
                "jira:issue_created",
                {
                    **base,
                    "webhookEvent": "jira:issue_created",
                    "issue_event_type_name": "issue_created",
                    "issue": _issue_json(state, issue),
                },
            )
        )
    elif changes.items:
        moved = {i.field_id for i in changes.items} <= {"status", "resolution"}
        out.append(
            (
                "jira:issue_updated",
                {
                    **base,
                    "webhookEvent": "jira:issue_updated",
                    "issue_event_type_name": "issue_generic" if moved else "issue_updated",
                    "issue": _issue_json(state, issue),
                    "changelog": {
                        "id": changes.history_id or "0",
                        "items": [_item_json(i) for i in changes.items],
                    },
                },
            )
        )
    for comment in changes.comments:
        rendered = render.comment(state, view, issue, comment)
        if not changes.created and not changes.items:
            out.append(
                (
                    "jira:issue_updated",
                    {
                        **base,
                        "webhookEvent": "jira:issue_updated",
                        "issue_event_type_name": "issue_commented",
                        "issue": _issue_json(state, issue),
                        "comment": rendered,
                    },
                )
            )
        out.append(
            (
                "comment_created",
                {
                    "timestamp": stamp,
                    "webhookEvent": "comment_created",
                    "comment": rendered,
                    "issue": _issue_json(state, issue),
                },
            )
        )
    return out


class WebhookSender:
    """Delivers webhook events in order from one background thread, with Jira's retries."""

    def __init__(self, *, timeout: float = 5.0) -> None:
        self.url: str | None = None
        self.secret: str | None = None
        self.events: frozenset[str] = EVENTS
        self.retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
        self.timeout = timeout
        self._cv = threading.Condition()
        self._queue: deque[WebhookDelivery] = deque()
        self._log: list[WebhookDelivery] = []
        self._paused = False
        self._flushing = 0
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    def configure(
        self,
        url: str | None,
        secret: str | None,
        *,
        events: Sequence[str] | None = None,
        retry_delays: Sequence[float] | None = None,
    ) -> None:
        """Post future events to `url` (None: stop), signed with `secret` when given."""
        unknown = set(events or ()) - EVENTS
        if unknown:
            raise ValueError(f"unknown webhook events {sorted(unknown)}")
        with self._cv:
            self.url = url
            self.secret = secret
            self.events = frozenset(events) if events else EVENTS
            if retry_delays is not None:
                self.retry_delays = tuple(float(d) for d in retry_delays)

    @property
    def paused(self) -> bool:
        """Whether deliveries are held in the queue until `flush` or `resume`."""
        with self._cv:
            return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        """Hold (True) or resume (False) deliveries."""
        with self._cv:
            self._paused = value
            self._cv.notify_all()

    def enqueue(self, event: str, payload: dict[str, Any]) -> None:
        """Queue one event for delivery, if a URL is configured and subscribes to it."""
        with self._cv:
            if self.url is None or event not in self.events or self._closed:
                return
            identifier = f"{int(time.time() * 1000)}-{next(self._ids)}"
            delivery = WebhookDelivery(identifier=identifier, event=event, payload=payload)
            self._queue.append(delivery)
            self._log.append(delivery)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jira-webhooks", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Deliver everything queued now (even while paused) and wait until it is done."""
        with self._cv:
            self._flushing += 1
            self._cv.notify_all()
            try:
                done = self._cv.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._flushing -= 1
        if not done:
            raise TimeoutError(f"webhooks still pending after {timeout} s")

    def deliveries(self) -> list[WebhookDelivery]:
        """Every event queued so far, with its attempts, oldest first."""
        with self._cv:
            return [
                WebhookDelivery(d.identifier, d.event, d.payload, list(d.attempts), d.delivered)
                for d in self._log
            ]

    def forget(self) -> None:
        """Drop the delivery log and anything still queued."""
        with self._cv:
            self._queue.clear()
            self._log.clear()

    def close(self) -> None:
        """Stop the delivery thread (queued events are dropped)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                with self._cv:
                    self._cv.wait_for(
                        lambda: (
                            self._closed
                            or (bool(self._queue) and (not self._paused or self._flushing > 0))
                        )
                    )
                    if self._closed:
                        return
                    delivery = self._queue.popleft()
                    self._busy = True
                    url, secret, delays = self.url, self.secret, self.retry_delays
                try:
                    if url is not None:
                        self._send(client, delivery, url, secret, delays)
                finally:
                    with self._cv:
                        self._busy = False
                        self._cv.notify_all()

    def _send(
        self,
        client: httpx.Client,
        delivery: WebhookDelivery,
        url: str,
        secret: str | None,
        delays: tuple[float, ...],
    ) -> None:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
        }
        if secret:
            headers["X-Hub-Signature"] = signature(secret, body)
        for retry in range(len(delays) + 1):
            if retry:
                time.sleep(delays[retry - 1])
                headers["X-Atlassian-Webhook-Retry"] = str(retry)
            status: int | None = None
            error: str | None = None
            try:
                status = client.post(url, content=body, headers=headers).status_code
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self._cv:
                delivery.attempts.append(Attempt(retry, status, error, time.time()))
            if status is not None and not (status in RETRY_STATUSES or status >= 500):
                with self._cv:
                    delivery.delivered = 200 <= status < 300
                return
