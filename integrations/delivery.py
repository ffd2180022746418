"""Delivering outbox effects to Jira and Slack, each exactly once, in order per request.

Per request: take a lease, then for each pending effect in order count the attempt (committed
before the call), call the service, and mark it sent with what came back. A crash between the
call and the mark leaves `attempts > 0`, so the next deliverer looks for the effect's reference
in Jira or Slack before sending again (DESIGN decision 3).
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain.errors import IntegrationError, LedgerError
from integrations.db import outbox
from integrations.db.audit import record_audit
from integrations.db.models import OutboxRow, RequestRow
from integrations.jira.port import JiraPort
from integrations.slack.port import SlackPort

LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=10)
METADATA_EVENT = "govflow_effect"


class EffectKind:
    """Names of the effect kinds the outbox carries."""

    JIRA_COMMENT = "jira_comment"
    JIRA_TRANSITION = "jira_transition"
    JIRA_FIELDS = "jira_fields"
    JIRA_LABEL = "jira_label"
    SLACK_ROOT = "slack_root"
    SLACK_REPLY = "slack_reply"
    SLACK_ROOT_UPDATE = "slack_root_update"
    SLACK_DM = "slack_dm"
    SLACK_EPHEMERAL = "slack_ephemeral"
    SLACK_POST = "slack_post"
    SLACK_CARD_UPDATE = "slack_card_update"


def effect_ref(idempotency_key: str) -> str:
    """A short stable reference that marks a delivered effect in Jira or Slack."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def jira_footer(ref: str) -> str:
    """The line appended to every Jira comment so a retry can recognise it."""
    return f"\n\n{{color:#97a0af}}govflow ref {ref}{{color}}"


def default_owner() -> str:
    """A name for one deliverer, unique across machines, processes and threads.

    Host and pid alone are not enough: the dispatcher runs several `advance` runs in threads
    of one process, and two of them must not both believe they hold a request's lease.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_gone(owner: str) -> bool:
    """Whether a lease owner (`default_owner`) is a process of this machine that has ended.

    A deliverer killed mid-delivery (kill -9, OOM) leaves its lease behind; on the machine it
    ran on, its successor need not wait the lease out. Owners elsewhere, or whose process
    still runs (or cannot be asked), are taken as alive.
    """
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # a process of another user has that id: alive
    return False


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    deferred: int = 0
    dead: int = 0
    superseded: int = 0
    skipped_requests: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deliverer:
    """Delivers due effects through the given ports, using `clock` for every timestamp."""

    sessions: sessionmaker[Session]
    jira: JiraPort
    slack: SlackPort
    clock: Callable[[], datetime]
    owner: str = field(default_factory=default_owner)

    def deliver_due(self, limit: int = 1000) -> DeliveryReport:
        """Deliver every due effect of every request, request by request."""
        report = DeliveryReport()
        with self.sessions.begin() as session:
            request_ids = outbox.requests_with_due_effects(session, self.clock(), limit)
        for request_id in request_ids:
            self.deliver_request(request_id, report)
        return report

    def deliver_request(
        self, request_id: int, report: DeliveryReport | None = None
    ) -> DeliveryReport:
        """Deliver one request's pending effects in order, stopping at the first that must wait."""
        report = report or DeliveryReport()
        with self.sessions.begin() as session:
            holder = outbox.lease_holder(session, request_id)
            claimed = outbox.claim_request_effects(
                session,
                request_id,
                owner=self.owner,
                now=self.clock(),
                lease=LEASE,
                dead_owner=holder if holder and owner_is_gone(holder) else None,
            )
        if not claimed:
            report.skipped_requests += 1
            return report
        try:
            while self._deliver_next(request_id, report):
                pass
        finally:
            with self.sessions.begin() as session:
                outbox.release_request_effects(session, request_id, owner=self.owner)
        return report

    def _deliver_next(self, request_id: int, report: DeliveryReport) -> bool:
        """Deliver the oldest pending effect; False when nothing more can go now."""
        now = self.clock()
        with self.sessions.begin() as session:
            effects = outbox.pending_effects(session, request_id)
            if not effects:
                return False
            effect = effects[0]
            if effect.next_attempt_at > now:
                return False
            if _superseded(effect, effects[1:]):
                effect.status = outbox.SUPERSEDED
                report.superseded += 1
                return True
            effect.attempts += 1
            request = session.get(RequestRow, request_id)
            if request is None:
                raise LedgerError(f"outbox row {effect.id} names missing request {request_id}")
            job = _Job.of(effect, request)
        try:
            result = self._send(job)
        except IntegrationError as exc:
            self._record_failure(job, exc, report)
            return not exc.transient
        except LedgerError as exc:
            # An effect that can never be sent (its thread or card never existed) must not
            # block the ones behind it: it is marked dead and audited.
            self._record_failure(job, IntegrationError("ledger", str(exc), status=409), report)
            return True
        with self.sessions.begin() as session:
            row = session.get(OutboxRow, job.effect_id)
            assert row is not None
            row.status = outbox.SENT
            row.sent_at = self.clock()
            row.result = result
            if job.kind == EffectKind.SLACK_ROOT:
                request = session.get(RequestRow, request_id)
                assert request is not None
                request.slack_channel = result["channel"]
                request.slack_thread_ts = result["ts"]
                if result.get("permalink"):
                    request.facts = {**request.facts, "thread_url": result["permalink"]}
        report.sent += 1
        return True

    def _record_failure(self, job: _Job, exc: IntegrationError, report: DeliveryReport) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            row = session.get(OutboxRow, job.effect_id)
            assert row is not None
            row.last_error = str(exc)[:2000]
            if exc.transient:
                row.next_attempt_at = now + _backoff(row.attempts, exc.retry_after)
                report.deferred += 1
                return
            row.status = outbox.DEAD
            report.dead += 1
            report.errors.append(f"{job.jira_key} {job.kind}: {exc}")
            record_audit(
                session,
                at=now,
                actor="govflow",
                action="effect_failed",
                request_id=job.request_id,
                reason=str(exc)[:2000],
                detail={"effect_id": job.effect_id, "kind": job.kind},
            )

    def _send(self, job: _Job) -> dict[str, Any]:
        ref = effect_ref(job.idempotency_key)
        payload = job.payload
        if job.kind == EffectKind.JIRA_COMMENT:
            return self._send_jira_comment(job, ref)
        if job.kind == EffectKind.JIRA_TRANSITION:
            self.jira.transition(job.jira_key, payload["status"])
            return {}
        if job.kind == EffectKind.JIRA_FIELDS:
            self.jira.update_fields(job.jira_key, payload["fields"])
            return {}
        if job.kind == EffectKind.JIRA_LABEL:
            self.jira.add_label(job.jira_key, payload["label"])
            return {}
        if job.kind == EffectKind.SLACK_ROOT:
            posted = self._post_once(job, ref, payload["channel"], thread_ts=None)
            return {**posted, "permalink": self._permalink(posted["channel"], posted["ts"])}
        if job.kind == EffectKind.SLACK_REPLY:
            channel, thread_ts = self._thread_of(job)
            return self._post_once(job, ref, channel, thread_ts=thread_ts)
        if job.kind == EffectKind.SLACK_ROOT_UPDATE:
            channel, thread_ts = self._thread_of(job)
            self.slack.update_message(channel, thread_ts, payload["text"], payload.get("blocks"))
            return {"channel": channel, "ts": thread_ts}
        if job.kind == EffectKind.SLACK_POST:
            return self._post_once(job, ref, payload["channel"], thread_ts=None)
        if job.kind == EffectKind.SLACK_CARD_UPDATE:
            channel, ts = self._card_of(payload["card"])
            self.slack.update_message(channel, ts, payload["text"], payload.get("blocks"))
            return {"channel": channel, "ts": ts}
        if job.kind == EffectKind.SLACK_DM:
            channel = self.slack.open_dm(payload["user"])
            return self._post_once(job, ref, channel, thread_ts=None)
        if job.kind == EffectKind.SLACK_EPHEMERAL:
            # Ephemeral messages cannot be looked up afterwards; at worst one shows twice.
            self.slack.post_ephemeral(
                payload["channel"], payload["user"], payload["text"], payload.get("blocks")
            )
            return {}
        raise LedgerError(f"outbox row {job.effect_id} has unknown kind {job.kind!r}")

    def _send_jira_comment(self, job: _Job, ref: str) -> dict[str, Any]:
        marker = f"govflow ref {ref}"
        if job.attempts > 1:
            for comment in self.jira.comments(job.jira_key):
                if marker in str(comment.get("body", "")):
                    return {"comment_id": str(comment.get("id")), "found_on_retry": True}
        comment_id = self.jira.add_comment(job.jira_key, job.payload["body"] + jira_footer(ref))
        return {"comment_id": comment_id}

    def _post_once(
        self, job: _Job, ref: str, channel: str, *, thread_ts: str | None
    ) -> dict[str, Any]:
        if job.attempts > 1:
            found = self.slack.find_message_by_metadata(
                channel, METADATA_EVENT, "ref", ref, thread_ts=thread_ts
            )
            if found is not None:
                return {"channel": channel, "ts": found, "found_on_retry": True}
        posted = self.slack.post_message(
            channel,
            job.payload["text"],
            job.payload.get("blocks"),
            thread_ts=thread_ts,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"ref": ref}},
        )
        return {"channel": posted.channel, "ts": posted.ts}

    def _permalink(self, channel: str, ts: str) -> str:
        """The thread's link for cards; a failure here must not re-post the root."""
        try:
            return self.slack.permalink(channel, ts)
        except IntegrationError:
            return ""

    def _card_of(self, card_key: str) -> tuple[str, str]:
        """Where an earlier posted card lives, from the result of the effect that posted it."""
        with self.sessions.begin() as session:
            posted = outbox.effect_by_key(session, card_key)
            result = dict(posted.result) if posted is not None else {}
        if "ts" not in result:
            raise LedgerError(f"card {card_key} was never posted, so it cannot be updated")
        return str(result["channel"]), str(result["ts"])

    def _thread_of(self, job: _Job) -> tuple[str, str]:
        if job.slack_channel is None or job.slack_thread_ts is None:
            raise LedgerError(f"{job.jira_key}: a thread effect came before the thread's root")
        return job.slack_channel, job.slack_thread_ts


@dataclass(frozen=True)
class _Job:
    """What a send needs, copied out of the session so no row is touched outside a transaction."""

    effect_id: int
    request_id: int
    jira_key: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int
    slack_channel: str | None
    slack_thread_ts: str | None

    @classmethod
    def of(cls, effect: OutboxRow, request: RequestRow) -> _Job:
        return cls(
            effect_id=effect.id,
            request_id=request.id,
            jira_key=request.jira_key,
            kind=effect.kind,
            payload=dict(effect.payload),
            idempotency_key=effect.idempotency_key,
            attempts=effect.attempts,
            slack_channel=request.slack_channel,
            slack_thread_ts=request.slack_thread_ts,
        )


def _superseded(effect: OutboxRow, later: Sequence[OutboxRow]) -> bool:
    """An in-place update is pointless when a newer one of the same message is already queued."""
    if effect.kind == EffectKind.SLACK_ROOT_UPDATE:
        return any(other.kind == EffectKind.SLACK_ROOT_UPDATE for other in later)
    if effect.kind == EffectKind.SLACK_CARD_UPDATE:
        card = effect.payload.get("card")
        return any(
            other.kind == EffectKind.SLACK_CARD_UPDATE and other.payload.get("card") == card
            for other in later
        )
    return False


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Wait before the next attempt: the service's Retry-After, else exponential, capped."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), MAX_BACKOFF)
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)
