"""No sequence of clicks and modal submissions by people not entitled changes any state.

Issue #6, item 4, at the receiver: the real receiver app over HTTP, requests signed by the
Slack stand-in, the real ledger (SQLite and PostgreSQL), and `advance` applied after every
step, so a wrongly recorded event would also have had its effect. Hypothesis drives random
sequences of button clicks on live cards and submissions of open modals by people who may
not take that action on that request:

- someone on no roster of the request (Lucas, merchant services; Priya and Tomas, QA);
- the requester, who is also the only Product approver (no self-approval);
- an approver of one team on another team's card (Kenji, Algorithm, on Product's card);
- people off the expert team on a claimed request's assignment card (another expert may
  take it over), and anyone but the assignee submitting its assessment;
- a modal opened by an entitled person, submitted as someone else (a forged `user`).

After every step the requests (stage, lifecycle state with its decisions and drafts,
facts), events, outbox rows, delegations and advance triggers are exactly as they were; the
audit trail only grew, and only by refusals. The clicker gets an ephemeral reply (not
checked here: it is Slack's state, not govflow's).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from domain.lifecycle import Claim
from integrations.db.models import AuditRow, DelegationRow
from integrations.slack.action_ids import ActionId
from sandbox.slack.seed import UserSeed
from tests.receiver.support import (
    ELENA,
    FATIMA,
    HANNAH,
    KENJI,
    LISTING_CHANNEL,
    LUCAS,
    PRIYA,
    PRODUCT_CHANNEL,
    TOMAS,
    Stack,
    make_request,
    now,
    person,
    post_approval_card,
    post_assignment_card,
)
from tests.receiver.test_replay import Snapshot, advance_all, snapshot
from tests.support.waiting import eventually

ALGORITHM_CHANNEL = "C0AL00001"
OUTSIDERS = (LUCAS, PRIYA, TOMAS)
REFUSALS = frozenset({"action_refused", "payload_refused"})
MACHINE = settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Card:
    """A live card, its buttons, and who may press none of them."""

    name: str
    channel: str
    ts: str
    buttons: tuple[tuple[str, str | None], ...]
    strangers: tuple[UserSeed, ...]


@dataclass(frozen=True)
class OpenModal:
    """A modal an entitled person opened and filled in, and who may not submit it."""

    name: str
    payload: dict[str, Any]
    strangers: tuple[UserSeed, ...]


def buttons(blocks: list[dict[str, Any]]) -> tuple[tuple[str, str | None], ...]:
    """Every (action_id, value) of the buttons in a message's blocks."""
    found: list[tuple[str, str | None]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button" and "action_id" in node:
                found.append((node["action_id"], node.get("value")))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(blocks)
    return tuple(found)


def posted_buttons(stack: Stack, channel: str, ts: str) -> tuple[tuple[str, str | None], ...]:
    """The buttons of the message the bot posted at `ts`."""
    [message] = [m for m in stack.slack.messages(channel) if m.ts == ts]
    return buttons(list(message.blocks or []))


def user_ref(stack: Stack, who: UserSeed) -> dict[str, Any]:
    """The `user` object Slack puts in a payload for `who`."""
    team = stack.slack.interactivity.workspace.team.id
    return {"id": who.id, "username": who.name, "name": who.name, "team_id": team}


def without_audits(seen: Snapshot) -> Snapshot:
    """Everything but the audit trail, which refusals may lengthen."""
    return Snapshot(
        events=seen.events,
        audits=[],
        outbox=seen.outbox,
        requests=seen.requests,
        triggered=seen.triggered,
    )


def delegation_rows(stack: Stack) -> list[tuple[str, str]]:
    """(approver, delegate) of every delegation in the ledger."""
    with stack.sessions.begin() as session:
        return [(d.approver, d.delegate) for d in session.scalars(select(DelegationRow))]


def machine_for(stack: Stack, keys: Iterator[int]) -> type[RuleBasedStateMachine]:
    """A state machine over fresh requests in this stack's ledger."""

    class Strangers(RuleBasedStateMachine):
        """Clicks and submissions by people not entitled to them."""

        cards: list[Card]
        modals: list[OpenModal]
        ids: tuple[int, int]

        @initialize()
        def requests(self) -> None:
            """A request in sign-off filed by Hannah, and one claimed by Fatima."""
            n = next(keys)
            first, signoff = make_request(
                stack, f"MODREQ-{n}", requester=person(HANNAH), signoff=True
            )
            claim = Claim(event_id=f"MODREQ-{n + 1}:claim", actor=person(FATIMA), at=now())
            second, claimed = make_request(stack, f"MODREQ-{n + 1}", events=(claim,))
            self.ids = (first, second)
            product = post_approval_card(stack, signoff, "product", PRODUCT_CHANNEL)
            algorithm = post_approval_card(stack, signoff, "algorithm", ALGORITHM_CHANNEL)
            assignment = post_assignment_card(stack, claimed, LISTING_CHANNEL)
            self.cards = [
                Card("product", PRODUCT_CHANNEL, product, (), (*OUTSIDERS, HANNAH, KENJI)),
                Card("algorithm", ALGORITHM_CHANNEL, algorithm, (), (*OUTSIDERS, HANNAH)),
                # Elena, a listing expert, may take the claimed request over: not a stranger.
                Card("assignment", LISTING_CHANNEL, assignment, (), (*OUTSIDERS, HANNAH, KENJI)),
            ]
            self.cards = [
                Card(c.name, c.channel, c.ts, posted_buttons(stack, c.channel, c.ts), c.strangers)
                for c in self.cards
            ]
            self.modals = [
                self.opened(algorithm, ALGORITHM_CHANNEL, ActionId.REJECT, KENJI, "reason"),
                self.opened(algorithm, ALGORITHM_CHANNEL, ActionId.CHANGES, KENJI, "feedback"),
                self.opened(assignment, LISTING_CHANNEL, ActionId.ASSESS, FATIMA, None),
            ]
            self.before = snapshot(stack)
            self.delegations = delegation_rows(stack)

        def opened(
            self, ts: str, channel: str, action: ActionId, opener: UserSeed, field: str | None
        ) -> OpenModal:
            """`opener` opens the modal behind `action` and fills it in, without submitting."""
            stack.slack.click(channel, ts, action, opener.id)
            view = eventually(
                lambda: next(
                    (
                        v
                        for v in stack.slack.views(user=opener.id)
                        if v.payload.get("callback_id") == action
                        and json.loads(v.payload.get("private_metadata", "{}")).get("m") == ts
                    ),
                    None,
                ),
                timeout=5,
                interval=0.02,
                what=f"{action} to open for {opener.real_name}",
            )
            assert view is not None, f"{action} did not open for {opener.real_name}"
            values: dict[str, Any] = (
                {field: "The grading scheme cannot be verified."}
                if field
                else {
                    "recommendation": "NEEDS_INFO",
                    "risk": "LOW",
                    "rationale": "Which grading scheme do the sellers use?",
                }
            )
            payload = stack.slack.interactivity.view_submission_payload(view.id, opener.id, values)
            strangers = (*OUTSIDERS, HANNAH, ELENA if action is ActionId.ASSESS else FATIMA)
            return OpenModal(f"{action}", payload, strangers)

        @rule(data=st.data())
        def click(self, data: st.DataObject) -> None:
            """A stranger presses any button of any live card."""
            card = data.draw(st.sampled_from(self.cards), label="card")
            action, value = data.draw(st.sampled_from(card.buttons), label="button")
            who = data.draw(st.sampled_from(card.strangers), label="who")

            answer = stack.slack.click(card.channel, card.ts, action, who.id, value=value)

            assert answer.status == 200, answer.body
            advance_all(stack, self.ids)

        @rule(data=st.data())
        def submit(self, data: st.DataObject) -> None:
            """A stranger submits a modal someone entitled opened."""
            modal = data.draw(st.sampled_from(self.modals), label="modal")
            who = data.draw(st.sampled_from(modal.strangers), label="who")
            payload = copy.deepcopy(modal.payload)
            payload["user"] = user_ref(stack, who)

            answer = stack.slack.deliver_raw(urlencode({"payload": json.dumps(payload)}))

            assert answer.status == 200, answer.body
            assert answer.json()["response_action"] == "errors", answer.body
            advance_all(stack, self.ids)

        @invariant()
        def nothing_changed(self) -> None:
            """Requests, decisions, drafts, events, outbox and triggers are as they were."""
            if not hasattr(self, "before"):
                return
            now_seen = snapshot(stack)
            assert without_audits(now_seen) == without_audits(self.before)
            assert delegation_rows(stack) == self.delegations
            assert now_seen.audits[: len(self.before.audits)] == self.before.audits
            with stack.sessions.begin() as session:
                new = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()[
                    len(self.before.audits) :
                ]
                assert {a.action for a in new} <= REFUSALS, [a.action for a in new]

    return Strangers


def test_strangers_change_nothing(stack: Stack) -> None:
    """Random clicks and submissions by people not entitled leave only refusals behind."""
    keys = iter(range(500, 10_000, 2))

    run_state_machine_as_test(machine_for(stack, keys), settings=MACHINE)

    with stack.sessions.begin() as session:
        refusals = session.scalars(
            select(AuditRow).where(AuditRow.action == "action_refused")
        ).all()
    assert refusals, "the machine took no step a stranger was refused"
