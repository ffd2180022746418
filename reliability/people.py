"""Scripted people: each request taken from its Jira ticket to DONE by Slack clicks and modals.

They act as humans do in the Slack client: they click the card govflow posted, wait for what
the click should bring, and click again only when the click visibly did not arrive (no answer
from the app: the receiver was down or too slow) or when it was refused. Every interaction
and its answer goes into the `Journal`, from which the soak checks that no acknowledged
decision was lost.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.rules import Rules
from domain.signoff import required_approvals
from domain.stages import Stage
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow
from integrations.db.outbox import PENDING
from integrations.slack.action_ids import ActionId
from sandbox.slack.interactivity import Delivery
from sandbox.slack.sandbox import SlackSandbox
from sandbox.slack.state import View

T = TypeVar("T")
# How long a person waits for what an acknowledged click should bring before looking again.
PATIENCE_S = 90.0
# How long a request may take for one step, kills and faults included, before it is stuck.
STEP_S = 420.0
ASSESSMENT = {
    "recommendation": "PROCEED",
    "risk": "MEDIUM",
    "rationale": "Soak: the change is small and the evidence is clear.",
}


class Stuck(RuntimeError):
    """A request did not reach its next step in time."""


@dataclass(frozen=True)
class Interaction:
    """One click or modal submission and how the app answered it."""

    key: str
    action: str
    user: str
    status: int | None
    error: str | None
    payload: dict[str, Any]
    at: float
    # When the person pressed (before the HTTP request): where a click's latency starts.
    sent_at: float = 0.0

    @property
    def acknowledged(self) -> bool:
        """Whether the app answered 200: from then on it owns the decision."""
        return self.status == 200


@dataclass
class Journal:
    """Every interaction of the soak, appended from many people's threads."""

    interactions: list[Interaction] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self, key: str, action: str, user: str, delivery: Delivery, sent_at: float = 0.0
    ) -> Interaction:
        """Record one delivery (`sent_at`: when it was sent, if the caller timed it)."""
        entry = Interaction(
            key,
            action,
            user,
            delivery.status,
            delivery.error,
            delivery.payload,
            time.time(),
            sent_at,
        )
        with self.lock:
            self.interactions.append(entry)
        return entry

    def acknowledged(self) -> int:
        """How many interactions the app acknowledged so far."""
        with self.lock:
            return sum(1 for i in self.interactions if i.acknowledged)

    def all(self) -> list[Interaction]:
        """A copy of every interaction so far."""
        with self.lock:
            return list(self.interactions)


@dataclass
class Office:
    """What every person shares: Slack, the ledger to find cards by, the rules, the journal."""

    slack: SlackSandbox
    sessions: sessionmaker[Session]
    rules: Rules
    journal: Journal
    stop: threading.Event = field(default_factory=threading.Event)
    # How often a person looks again at what they wait for (the bench looks often: no think
    # time; the soak looks as a person would).
    look_every_s: float = 0.5


class Walk:
    """One request walked through claim, assessment, every sign-off and publication."""

    def __init__(self, office: Office, key: str, sop_id: str) -> None:
        self.office = office
        self.key = key
        self.sop_id = sop_id

    def run(self) -> None:
        """Walk the request to DONE; raises Stuck, with its story, if a step never comes."""
        try:
            self._walk()
        except Stuck as exc:
            raise Stuck(f"{exc}\n{self.story()}") from exc

    def story(self) -> str:
        """The request's stage, events and latest audit records, to explain a stuck walk."""
        with self.office.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == self.key))
            if row is None:
                return f"    {self.key}: not in the ledger"
            lines = [f"    stage {row.stage}, assignee {row.assignee}"]
            for event in session.scalars(select(EventRow).where(EventRow.request_id == row.id)):
                lines.append(
                    f"    event {event.kind} by {event.actor}: applied {event.processed_at}"
                )
            audit = session.scalars(
                select(AuditRow).where(AuditRow.request_id == row.id).order_by(AuditRow.id.desc())
            ).all()[:12]
            lines += [f"    audit {a.action} by {a.actor}: {a.reason[:160]}" for a in audit]
        return "\n".join(lines)

    def _walk(self) -> None:
        row = self._eventually(lambda: self._routed(), "routed with an assignment card")
        assert row.expert_team is not None
        expert = self.people(row.expert_team)[0]
        self._act("assignment:0", ActionId.CLAIM, expert, lambda: self._row().assignee is not None)
        self._assess(expert)
        round_ = int((self._row().state or {})["round"])
        route = next(r for r in self.office.rules.routing if r.name == row.route_name)
        for signoff in route.signoff:
            roster = self.office.rules.teams[signoff.team].roster
            for person in self.people(signoff.team)[: required_approvals(signoff.quorum, roster)]:
                self._act(
                    f"approval:{round_}:{signoff.team}",
                    ActionId.APPROVE,
                    person,
                    partial(self._applied, person, ActionId.APPROVE),
                )
        card = self._eventually(
            lambda: self._posted_card(self._row().facts.get("sop_update_card")),
            "the SOP owner card",
        )
        state = self._row().state or {}
        owner = self.people(state.get("sop_owner_team") or row.expert_team)[0]
        self._act(
            card.removeprefix(f"{self.key}:"),
            ActionId.SOP_PUBLISH,
            owner,
            lambda: self._row().stage == Stage.DONE,
        )

    def people(self, team: str) -> list[str]:
        """The Slack users of a team's roster, lead first."""
        return [p for p in self.office.rules.teams[team].roster if p.startswith("U")]

    # --- steps ---------------------------------------------------------------------------

    def _assess(self, expert: str) -> None:
        """Open the assessment modal and submit it until the request is in sign-off."""
        slack = self.office.slack
        values = {
            **ASSESSMENT,
            "proposed_change": f"## 9. Soak note\nRequest {self.key} was walked by the soak.",
            "affected_sops": [self.sop_id],
        }
        deadline = time.monotonic() + STEP_S
        while time.monotonic() < deadline:
            if self._row().stage == Stage.SIGN_OFF:
                return
            opened = len(slack.views(user=expert))
            self._click("assignment:0", ActionId.ASSESS, expert)
            view = self._maybe(partial(self._views_since, expert, opened), 15.0)
            if not view:
                continue  # Slack did not open the form (views.open failed): click again
            while time.monotonic() < deadline:
                sent_at = time.time()
                try:
                    answer = slack.submit_view(view[-1].id, expert, values)
                except KeyError:
                    break  # the form closed (its submission went through): look again
                self.office.journal.add(self.key, "assessment", expert, answer, sent_at)
                if answer.status == 200 and answer.body:
                    # Refused, e.g. "moved on since this form was opened" when an earlier
                    # submission whose answer was lost went through: look at the card again.
                    break
                if answer.status == 200:
                    self._eventually(
                        lambda: self._row().stage == Stage.SIGN_OFF, "sign-off after assessment"
                    )
                    return
                time.sleep(1.0)  # the app did not answer: press Submit again
        raise Stuck(f"{self.key}: no assessment within {STEP_S:.0f} s")

    def _views_since(self, user: str, opened: int) -> list[View]:
        """The modals about this request opened for `user` after the first `opened` ones.

        One expert assesses several requests at once (one thread each), so a new modal may be
        another request's: each carries its Jira key in its private metadata.
        """
        return [
            view
            for view in self.office.slack.views(user=user)[opened:]
            if _modal_key(view) == self.key
        ]

    def _act(self, suffix: str, action: ActionId, user: str, done: Callable[[], bool]) -> None:
        """Click until acknowledged, then wait for `done`; look again before any repeat."""
        deadline = time.monotonic() + STEP_S
        first = True
        while time.monotonic() < deadline:
            if not first and done():
                return
            first = False
            if self._click(suffix, action, user) and self._maybe(done, PATIENCE_S):
                return
            # Not acknowledged, or acknowledged and nothing came (refused): look, click again.
            time.sleep(1.0)
        raise Stuck(f"{self.key}: {action.value} by {user} on {suffix} never took effect")

    def _click(self, suffix: str, action: ActionId, user: str) -> bool:
        """One click on the card posted under outbox key `key:suffix`; True if acknowledged."""
        channel, ts = self._eventually(
            lambda: self._card(f"{self.key}:{suffix}"), f"card {self.key}:{suffix}"
        )
        sent_at = time.time()
        try:
            answer = self.office.slack.click(channel, ts, action, user)
        except ValueError:
            return False  # the button is gone (the card was updated meanwhile): look again
        journal = self.office.journal
        return journal.add(self.key, action.value, user, answer, sent_at).acknowledged

    # --- what a person sees (read from the ledger: where govflow put the cards) -----------

    def _row(self) -> RequestRow:
        with self.office.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == self.key))
            if row is None:
                raise Stuck(f"{self.key} is not in the ledger")
            session.expunge(row)
            return row

    def _routed(self) -> RequestRow | None:
        with self.office.sessions.begin() as session:
            row = session.scalar(select(RequestRow).where(RequestRow.jira_key == self.key))
            if row is None or row.expert_team is None:
                return None
            session.expunge(row)
        return row if self._card(f"{self.key}:assignment:0") else None

    def _card(self, key: str) -> tuple[str, str] | None:
        """Channel and ts of the message an outbox effect posted, once delivered."""
        with self.office.sessions.begin() as session:
            row = session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == key))
            if row is None or "ts" not in row.result:
                return None
            return str(row.result["channel"]), str(row.result["ts"])

    def _posted_card(self, key: object) -> str | None:
        return key if isinstance(key, str) and self._card(key) else None

    def _applied(self, user: str, action: ActionId) -> bool:
        """Whether a click of `action` by `user` on this request is an applied event."""
        prefix = f"slack:{user}:{action.value}:"
        with self.office.sessions.begin() as session:
            found = session.scalar(
                select(func.count())
                .select_from(EventRow)
                .join(RequestRow, RequestRow.id == EventRow.request_id)
                .where(
                    RequestRow.jira_key == self.key,
                    EventRow.dedupe_key.startswith(prefix),
                    EventRow.processed_at.is_not(None),
                )
            )
        return bool(found)

    def _eventually(self, check: Callable[[], T | None], what: str) -> T:
        value = self._maybe(check, STEP_S)
        if not value:
            raise Stuck(f"{self.key}: timed out after {STEP_S:.0f} s waiting for {what}")
        return value

    def _maybe(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Poll `check` until it is truthy or `timeout` passes (or the soak stops)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.office.stop.is_set():
            value = check()
            if value:
                return value
            time.sleep(self.office.look_every_s)
        return None


def settled(session: Session, jira_key: str, now: datetime) -> bool:
    """Every event of the request applied, and none of its effects due and unsent."""
    request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == jira_key))
    waiting = session.scalar(
        select(func.count())
        .select_from(EventRow)
        .where(EventRow.request_id == request_id, EventRow.processed_at.is_(None))
    )
    due = session.scalar(
        select(func.count())
        .select_from(OutboxRow)
        .where(
            OutboxRow.request_id == request_id,
            OutboxRow.status == PENDING,
            OutboxRow.next_attempt_at <= now,
        )
    )
    return not waiting and not due


def _modal_key(view: View) -> str | None:
    """The Jira key a govflow modal is about (`modal_metadata`'s "k")."""
    try:
        metadata = json.loads(view.payload.get("private_metadata") or "{}")
    except ValueError:
        return None
    return metadata.get("k") if isinstance(metadata, dict) else None
