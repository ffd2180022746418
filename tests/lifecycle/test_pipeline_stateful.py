"""Lifecycle invariants under random events driven through the real pipeline (issue #6, item 5).

tests/domain/test_lifecycle_stateful.py checks the pure state machine; this drives the
pipeline around it: tickets filed and edited in the Jira stand-in and taken in by signed
webhooks or the poll, Slack clicks and modal submissions delivered signed by the Slack
stand-in to the receiver app, requester replies on Jira, Slack's and Jira's redeliveries,
`advance`, outbox delivery to both stand-ins, SLA ticks of the watchdog on a clock that
moves forward (across the QA lead's year-end out-of-office), and SOP publication.

After every step:
- no request reaches SOP_UPDATE (or DONE) unless every sign-off team of the round reached
  its quorum with approvals the rules entitle, read independently (`tests.lifecycle.oracle`);
- DONE only with the drafts published in the SOP registry, each exactly the text the final
  round approved;
- no Jira comment, Jira transition or Slack message was delivered twice for one outbox key,
  as the stand-ins themselves record it;
- the audit trail only grows: no row changes or disappears;
- each request applied its events in arrival order and each at most once; every handled
  event was either applied or refused (audited), never both; a refusal changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.lifecycle import RequestState
from domain.rules import Rules
from domain.stages import Stage
from integrations.delivery import METADATA_EVENT, EffectKind, effect_ref
from integrations.slack.action_ids import OPENS_MODAL, ActionId
from sandbox.jira.seed import (
    AFFECTED_SOP,
    BUSINESS_JUSTIFICATION,
    DOMAIN,
    LISTING_POLICY_CHANGE,
    MARKET,
    PRODUCT_LISTING,
    PROPOSED_CHANGE,
    REQUEST_TYPE,
    REVIEW_STANDARD_CHANGE,
)
from sandbox.jira.seed import CONTENT as CONTENT_DOMAIN
from sandbox.jira.webhooks import WebhookDelivery
from sandbox.slack.interactivity import Delivery
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from tests.lifecycle.oracle import round_signed_off
from tests.lifecycle.pipeline import (
    Ledger,
    LedgerFactory,
    Pipeline,
    SimClock,
    audit_digest,
    migrated,
    shipped_rules,
)
from tests.support.databases import postgres_schema_url

RULES: Rules = shipped_rules()
# Thursday 17 December 2026, 10:00 in Kuala Lumpur: a few working days before the QA lead's
# out-of-office (21 Dec - 1 Jan), so ticks carry clicks across its first day.
START = datetime(2026, 12, 17, 2, 0, tzinfo=UTC)
MAX_TICKETS = 3
SLACK_IDS = [u.id for u in EXAMPLE_WORKSPACE.users]
EMAIL_OF = {u.id: u.email or "" for u in EXAMPLE_WORKSPACE.users}
# Requesters: someone on no roster, the QA lead (self-approval and a smaller QA quorum),
# and a merchant-services member.
REPORTERS = ["aisyah.rahman@example.com", "priya.raman@example.com", "lucas.martin@example.com"]
CARD_KEY = re.compile(r"^(?P<key>[A-Z]+-\d+):(?P<card>assignment|approval|sop_update):")
FORWARD = frozenset(
    {ActionId.CLAIM, ActionId.ASSESS, ActionId.APPROVE, ActionId.APPROVE_FOR, ActionId.SOP_PUBLISH}
)
MEANWHILE: tuple[str, ...] = ("edit", "comment", "poll", "jira_retry", "slack_retry")
MEANWHILE += ("submit_later", "drain", "deliver", "tick")
SOP_REF = re.compile(r"govflow ref ([0-9a-f]{16})")


@dataclass(frozen=True)
class TicketKind:
    """A kind of request the test files: its routing fields and the SOP it changes."""

    request_type: str
    domain: str
    market: str
    sop: str


TICKETS = [
    # listing-policy-change: product any, algorithm any; owned by the listing experts.
    TicketKind(LISTING_POLICY_CHANGE, PRODUCT_LISTING, "MY", "SOP-LST-001"),
    # listing-policy-id-vn: adds governance (all).
    TicketKind(LISTING_POLICY_CHANGE, PRODUCT_LISTING, "ID", "SOP-LST-002"),
    # review-standard-listing: qa 2 of, bpo any, algorithm any.
    TicketKind(REVIEW_STANDARD_CHANGE, PRODUCT_LISTING, "SG", "SOP-LST-001"),
    # review-standard-content: qa 2 of, bpo any; no SOP owner, so the experts publish.
    TicketKind(REVIEW_STANDARD_CHANGE, CONTENT_DOMAIN, "MY", "SOP-CNT-001"),
]
# Section rewrites that apply to the shipped SOPs: two requests may touch the same section
# (a conflict at publication) or different ones (a clean rebase).
CHANGES = {
    "SOP-LST-001": [
        "### 4.2 Identify the item\n\n1. Decide from the images first.\n"
        "2. A refurbished phone is listed as refurbished only with a grading certificate.\n",
        "### 4.1 Open the case\n\n1. Open the case from the queue and check the market badge.\n",
    ],
    "SOP-LST-002": [
        "### 3.2 Weak signals\n\n- A price far below the brand's floor.\n"
        "- Stock photos with the brand's watermark cropped out.\n",
    ],
    "SOP-CNT-001": [
        "### 4.1 Incentivised reviews\n\nA review offered for a voucher is removed at once.\n",
    ],
}


def complete_fields(kind: TicketKind, n: int) -> dict[str, Any]:
    """A ticket with every field its request type requires."""
    return {
        "Summary": f"Lifecycle request {n}: tighten {kind.sop} wording",
        "Description": "Reviewers across BPO sites decide these listings inconsistently today.",
        REQUEST_TYPE: kind.request_type,
        DOMAIN: kind.domain,
        MARKET: kind.market,
        BUSINESS_JUSTIFICATION: "Appeals on these listings doubled over the last quarter.",
        AFFECTED_SOP: kind.sop,
        PROPOSED_CHANGE: "Spell out the grading certificate a refurbished phone needs.",
    }


@dataclass
class Seen:
    """What the examples of one test reached, to prove the run exercised the lifecycle."""

    stages: Counter[str] = field(default_factory=Counter)
    refused_clicks: int = 0
    duplicates: int = 0
    published: int = 0
    sla_effects: int = 0
    presses: int = 0


@dataclass(frozen=True)
class Press:
    """One press: which card (newest first), which button, who, what they answer."""

    card: int
    button: int
    who: int
    answer: int
    submit: bool
    pump: bool


presses = st.builds(
    Press,
    card=st.integers(0, 99),
    button=st.integers(0, 99),
    who=st.integers(0, 99),
    answer=st.integers(0, 99),
    submit=st.sampled_from([True, True, True, True, False]),
    pump=st.sampled_from([True, True, True, False]),
)


@dataclass
class OpenView:
    """A modal opened for someone and not submitted yet."""

    view_id: str
    user: str
    callback: str
    sop: str


class PipelineMachine(RuleBasedStateMachine):
    """Random people and services acting on a few requests in one pipeline."""

    def __init__(self, ledgers: LedgerFactory, seen: Seen) -> None:
        super().__init__()
        self.seen = seen
        self._stack = ExitStack()
        ledger: Ledger = ledgers(self._stack)
        self.clock = SimClock(START)
        self.p = Pipeline(ledger, self.clock, RULES)
        self._stack.callback(self.p.close)
        self.tickets: list[tuple[str, TicketKind, str]] = []
        self.clicks: list[Delivery] = []
        self.views: list[OpenView] = []
        self.known_views: set[str] = set()
        self.audit_snapshot: dict[int, str] = {}
        self.published: set[tuple[str, int]] = set()

    def teardown(self) -> None:
        """Stop the receiver and stand-ins, let go of the ledger."""
        self._stack.close()

    # --- Jira ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.tickets) < MAX_TICKETS)
    @rule(
        kind=st.sampled_from(TICKETS),
        reporter=st.sampled_from(REPORTERS),
        complete=st.sampled_from([True, True, True, False]),
    )
    def file_ticket(self, kind: TicketKind, reporter: str, complete: bool) -> None:
        """A requester files a ticket; Jira's webhook brings it in."""
        fields = complete_fields(kind, len(self.tickets) + 1)
        if not complete:
            del fields[BUSINESS_JUSTIFICATION]
        key = self.p.jira.file_issue(reporter=reporter, fields=fields)
        self.tickets.append((key, kind, reporter))
        self.p.flush_webhooks()

    def edit_ticket(self, pick: int, fix: bool) -> None:
        """The requester completes or rewords their ticket."""
        key, _kind, reporter = self.tickets[pick % len(self.tickets)]
        fields = (
            {BUSINESS_JUSTIFICATION: "Appeals doubled; brand partners complain weekly now."}
            if fix
            else {"Description": f"Reworded at {self.clock().isoformat()}: reviewers disagree."}
        )
        self.p.jira.edit_fields(key, fields, by=reporter)
        self.p.flush_webhooks()

    def comment(self, pick: int, by_requester: bool) -> None:
        """Someone comments on a ticket (the requester answering, mostly)."""
        key, _, reporter = self.tickets[pick % len(self.tickets)]
        author = reporter if by_requester else "chloe.tan@example.com"
        self.p.jira.comment_as(key, author, "The five luxury houses; sample links attached.")
        self.p.flush_webhooks()

    def poll(self) -> None:
        """Intake's scheduled poll (the safety net for lost webhooks)."""
        self.p.poll_intake()

    def jira_retries_a_webhook(self, pick: int) -> None:
        """Jira delivers an earlier webhook again: nothing new may be recorded."""
        deliveries: list[WebhookDelivery] = self.p.jira.webhook_deliveries()
        if not deliveries:
            return
        before = self.p.counts()
        answer = self.p.redeliver_webhook(deliveries[pick % len(deliveries)])
        if answer["outcome"] == "duplicate":
            self.seen.duplicates += 1
            assert self.p.counts() == before

    # --- Slack -----------------------------------------------------------------------------

    @precondition(lambda self: bool(self.tickets))
    @rule(presses=st.lists(presses, min_size=2, max_size=8))
    def press(self, presses: list[Press]) -> None:
        """People press buttons on govflow's cards (and fill in the modals they open)."""
        for one in presses:
            self.press_one(one)

    @precondition(lambda self: bool(self.tickets))
    @rule(presses=st.lists(presses, min_size=2, max_size=8))
    def press_more(self, presses: list[Press]) -> None:
        """The same again: people act more often than services tick."""
        self.press(presses)

    def press_one(self, press: Press) -> None:
        """One button pressed, its modal submitted or left open, govflow run or not."""
        cards = self.posted_cards()
        if not cards:
            return
        key, _card, channel, ts = cards[-1 - press.card % len(cards)]
        buttons = self.buttons(channel, ts)
        if not buttons:
            return
        # Mostly a button that moves the request on; now and then any other.
        forward = [b for b in buttons if b[0] in FORWARD] if press.button < 75 else []
        action, value = (forward or buttons)[press.button % len(forward or buttons)]
        user = self.clicker(channel, press.who)
        assignee = self.assignee(key)
        if action in (ActionId.ASSESS, ActionId.ASK) and assignee and press.who < 60:
            # Mostly the expert who claimed it assesses it.
            user = assignee
        refusals = self.refusal_count()
        states = self.states()
        events_before = self.p.counts()[0]
        delivery = self.p.click(channel, ts, action, user, value)
        self.seen.presses += 1
        self.clicks.append(delivery)
        if self.refusal_count() > refusals:
            # Refused at the door: nothing recorded, nothing changed.
            self.seen.refused_clicks += 1
            assert self.p.counts()[0] == events_before
            assert self.states() == states
            return
        if action in OPENS_MODAL:
            view = self.p.new_view(user, self.known_views)
            assert view is not None, f"{action} by {user} opened no modal"
            self.known_views.add(view)
            opened = OpenView(view, user, action, self.sop_of(key))
            if not press.submit:
                self.views.append(opened)
                return
            self.submit(opened, press.answer)
        elif press.pump:
            self.drain()
            self.p.deliver()

    def submit_later(self, pick: int, answer: int) -> None:
        """A modal left open is submitted after the request may have moved on."""
        opened = self.views.pop(pick % len(self.views))
        self.submit(opened, answer)

    def slack_retries(self, pick: int) -> None:
        """Slack delivers an earlier click or submission again: it records nothing new."""
        original = self.clicks[pick % len(self.clicks)]
        before = self.p.counts()[0]
        again = self.p.slack.redeliver(original, retry_num=1)
        assert again.status == 200
        if self.recorded(original):
            self.seen.duplicates += 1
            assert self.p.counts()[0] == before

    # --- govflow ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self.tickets))
    @rule(
        what=st.sampled_from(MEANWHILE),
        pick=st.integers(0, 999),
        flag=st.booleans(),
        hours=st.sampled_from([1, 4, 9, 26, 75]),
    )
    def meanwhile(self, what: str, pick: int, flag: bool, hours: int) -> None:
        """Something other than a press happens: a service runs, time passes, Jira changes."""
        if what == "edit":
            self.edit_ticket(pick, fix=flag)
        elif what == "comment":
            self.comment(pick, by_requester=flag or pick % 3 > 0)
        elif what == "poll":
            self.poll()
        elif what == "jira_retry":
            self.jira_retries_a_webhook(pick)
        elif what == "slack_retry" and self.clicks:
            self.slack_retries(pick)
        elif what == "submit_later" and self.views:
            self.submit_later(pick, pick // 7)
        elif what == "drain":
            self.drain()
        elif what == "deliver":
            self.deliver()
        elif what == "tick":
            self.sla_tick(hours)

    def drain(self) -> None:
        """`advance` runs for every request with waiting events; refusals change nothing."""
        before = {r.id: (r.state, r.stage) for r in self.p.requests()}
        outbox = Counter(o.request_id for o in self.p.outbox())
        for done in self.p.drain():
            if done.applied == 0:
                after = {r.id: (r.state, r.stage) for r in self.p.requests()}
                assert after[done.request_id] == before[done.request_id]
                now = Counter(o.request_id for o in self.p.outbox())
                assert now[done.request_id] == outbox[done.request_id]

    def deliver(self) -> None:
        """Outbox delivery to Jira and Slack."""
        self.p.deliver()

    def sla_tick(self, hours: int) -> None:
        """Time passes; the watchdog fires what is due and delivers it."""
        self.p.tick(timedelta(hours=hours))
        before = len(self.p.outbox())
        self.p.watchdog()
        self.seen.sla_effects += len(self.p.outbox()) - before
        self.p.deliver()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def audit_only_grows(self) -> None:
        """No audit row changes or disappears."""
        now = {row.id: audit_digest(row) for row in self.p.audit()}
        for row_id, digest in self.audit_snapshot.items():
            assert now.get(row_id) == digest, f"audit row {row_id} changed or vanished"
        self.audit_snapshot = now

    @invariant()
    def events_in_order_once(self) -> None:
        """Applied in arrival order, each once; every handled event applied xor refused."""
        refused = Counter(
            int(a.detail["event_id"]) for a in self.p.audit() if a.action == "event_refused"
        )
        assert all(n == 1 for n in refused.values()), refused
        rows = [e for e in self.p.events() if e.kind != "jira_webhook"]
        for request in self.p.requests():
            state = self.p.state(request.id)
            processed = list(state.processed) if state else []
            assert len(processed) == len(set(processed))
            mine = [e for e in rows if e.request_id == request.id]
            ids = [e.payload.get("event_id") for e in mine]
            assert [i for i in ids if i in processed] == processed
            for row, event_id in zip(mine, ids, strict=True):
                applied = event_id in processed
                if row.processed_at is None:
                    assert not applied and row.id not in refused
                else:
                    assert applied != (row.id in refused), f"event {row.id}"

    @invariant()
    def no_signoff_without_quorum(self) -> None:
        """Every entry into SOP_UPDATE follows an entitled quorum of every team."""
        for request in self.p.requests():
            state = self.p.state(request.id)
            if state is None:
                continue
            self.seen.stages[state.stage.value] += 1
            if Stage.SOP_UPDATE in (state.stage, state.resume_stage) or state.stage is Stage.DONE:
                assert round_signed_off(state, state.round, RULES), describe(state)
        for row in self.p.audit():
            notice = row.detail.get("notice") if row.action == "signoff_complete" else None
            if notice is None:
                continue
            state = self.p.state(row.request_id or 0)
            assert state is not None
            round_ = int(notice["round"])
            past = state.model_copy(
                update={"decisions": tuple(d for d in state.decisions if d.at <= row.at)}
            )
            assert round_signed_off(past, round_, RULES), describe(past)

    @invariant()
    def done_only_when_published(self) -> None:
        """DONE: every draft published in the registry, exactly as the final round approved."""
        for request in self.p.requests():
            state = self.p.state(request.id)
            if state is None or state.stage is not Stage.DONE:
                continue
            assert state.drafts, f"{state.key} is DONE without a draft to publish"
            approvals = [d for d in state.round_decisions() if d.verdict.value == "APPROVE"]
            assert approvals
            assert all(d.approved_hashes == state.draft_hashes for d in approvals)
            registry = self.p.published_versions(state.key)
            for draft in state.drafts:
                texts = [v.text for v in registry if v.sop_id == draft.sop_id]
                assert texts == [draft.text], f"{state.key} {draft.sop_id}"
            for version in registry:
                if (state.key, version.version) not in self.published:
                    self.published.add((state.key, version.version))
                    self.seen.published += 1

    @invariant()
    def effects_at_most_once(self) -> None:
        """No outbox key reached Jira or Slack twice, as the stand-ins record it."""
        outbox = self.p.outbox()
        keys = {effect_ref(o.idempotency_key): o for o in outbox}
        comments = Counter(ref for c in self.p.jira.comments() for ref in SOP_REF.findall(c.body))
        posts = Counter(
            m.metadata["event_payload"]["ref"]
            for channel in self.p.slack.state.channels()
            for m in self.p.slack.messages(channel.id)
            if m.metadata and m.metadata.get("event_type") == METADATA_EVENT
        )
        for ref, n in (comments + posts).items():
            assert n == 1, f"{keys[ref].idempotency_key} delivered {n} times"
            assert keys[ref].attempts >= 1
        api_user = self.p.jira.credentials[0]
        for request in self.p.requests():
            moves = [
                t for t in self.p.jira.transitions_done(request.jira_key) if t.by_email == api_user
            ]
            sent = [
                o
                for o in outbox
                if o.request_id == request.id
                and o.kind == EffectKind.JIRA_TRANSITION
                and o.attempts >= 1
            ]
            assert len(moves) <= len(sent), request.jira_key

    # --- helpers ---------------------------------------------------------------------------

    def posted_cards(self) -> list[tuple[str, str, str, str]]:
        """(jira key, card kind, channel, ts) of every card govflow has posted."""
        found = []
        for row in self.p.outbox():
            match = CARD_KEY.match(row.idempotency_key)
            if match and "ts" in row.result:
                found.append(
                    (match["key"], match["card"], str(row.result["channel"]), row.result["ts"])
                )
        return found

    def buttons(self, channel: str, ts: str) -> list[tuple[str, str | None]]:
        """(action id, value) of every govflow button on a message as Slack shows it now."""
        message = next(m for m in self.p.slack.messages(channel) if m.ts == ts)
        found = []
        for block in message.blocks or []:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("type") == "button":
                    found.append((str(element["action_id"]), element.get("value")))
        return found

    def clicker(self, channel: str, who: int) -> str:
        """Mostly someone who may act on the card (a member of its channel), else anyone."""
        members = [
            m
            for c in EXAMPLE_WORKSPACE.channels
            if c.id == channel
            for m in c.members
            if m in EMAIL_OF
        ]
        if who < 80 and members:
            return members[who % len(members)]
        return SLACK_IDS[who % len(SLACK_IDS)]

    def submit(self, opened: OpenView, answer: int) -> None:
        """Fill in and submit a modal, then let govflow run."""
        values = modal_values(opened, answer)
        delivery = self.p.slack.submit_view(opened.view_id, opened.user, values)
        assert delivery.status == 200, delivery.body
        self.clicks.append(delivery)
        self.drain()
        self.p.deliver()

    def assignee(self, key: str) -> str | None:
        """The Slack id of the expert holding the request, if any."""
        row = next(r for r in self.p.requests() if r.jira_key == key)
        return row.assignee

    def sop_of(self, key: str) -> str:
        """The SOP the ticket names."""
        return next(kind.sop for k, kind, _ in self.tickets if k == key)

    def refusal_count(self) -> int:
        """How many receiver refusals the audit trail holds."""
        return sum(1 for a in self.p.audit() if a.action == "action_refused")

    def states(self) -> dict[int, Any]:
        """Every request's stored state, to compare before and after a step."""
        return {r.id: (r.stage, r.state) for r in self.p.requests()}

    def recorded(self, delivery: Delivery) -> bool:
        """Whether a delivered interaction's event is in the ledger."""
        return any(self._matches(e.dedupe_key, delivery.payload) for e in self.p.events())

    @staticmethod
    def _matches(dedupe_key: str, payload: dict[str, Any]) -> bool:
        view = payload.get("view")
        if isinstance(view, dict):
            return dedupe_key == f"slack:view:{view.get('id')}:{view.get('hash')}"
        actions = payload.get("actions") or [{}]
        user = (payload.get("user") or {}).get("id")
        stamp = actions[0].get("action_ts")
        return dedupe_key.startswith(f"slack:{user}:") and f":{stamp}:" in dedupe_key


def describe(state: RequestState) -> str:
    """The request's requester and decisions, for a failure message."""
    lines = [f"{state.key} {state.stage} round {state.round} requester {state.requester}"]
    lines += [
        f"  r{d.round} {d.team} {d.verdict} by {d.approver.slack_id or d.approver.email}"
        f" for {d.on_behalf_of} at {d.at.isoformat()} hashes {len(d.approved_hashes)}"
        for d in state.decisions
    ]
    return "\n".join(lines)


def modal_values(opened: OpenView, answer: int) -> dict[str, Any]:
    """What a person types into a govflow modal; `answer` picks among plausible answers."""
    if opened.callback == ActionId.ASSESS:
        recommendation = ["PROCEED"] * 10 + ["NEEDS_INFO", "REJECT"]
        changes = CHANGES[opened.sop]
        return {
            "recommendation": recommendation[answer % len(recommendation)],
            "risk": "MEDIUM",
            "proposed_change": changes[answer % len(changes)],
            "affected_sops": [opened.sop],
            "rationale": "Appeals doubled; a precise rule removes the guesswork.",
        }
    if opened.callback == ActionId.SOP_EDIT:
        changes = CHANGES[opened.sop]
        return {"draft": changes[(answer + 1) % len(changes)]}
    if opened.callback == ActionId.ASK:
        return {"question": "Which listings exactly?"}
    if opened.callback == ActionId.CHANGES:
        return {"feedback": "Narrow it to non-official stores."}
    return {"reason": "The evidence does not support it yet."}


# --- the tests -----------------------------------------------------------------------------


def run(ledgers: LedgerFactory, max_examples: int, steps: int) -> Seen:
    """Run the machine with deterministic settings; what its examples reached."""
    seen = Seen()

    class Machine(PipelineMachine):
        def __init__(self) -> None:
            super().__init__(ledgers, seen)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            derandomize=True,
            deadline=None,
            database=None,
            # No shrinking: it replays the whole pipeline hundreds of times (minutes), and
            # a failure already prints every step of the failing example.
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    return seen


def sqlite_factory(directory: Path) -> Callable[[ExitStack], Ledger]:
    """A new SQLite ledger file per example."""
    made = iter(range(1, 10_000))

    def make(stack: ExitStack) -> Ledger:
        return migrated(stack, f"sqlite:///{directory / f'ledger-{next(made)}.db'}")

    return make


def postgres_factory(stack: ExitStack) -> Ledger:
    """A new PostgreSQL schema per example, dropped afterwards."""
    return migrated(stack, stack.enter_context(postgres_schema_url()))


def assert_exercised(seen: Seen) -> None:
    """The run took requests all the way, and met refusals, duplicates and SLA effects."""
    assert seen.stages[Stage.SIGN_OFF.value] > 0, seen
    assert seen.stages[Stage.NEEDS_INFO.value] > 0, seen
    assert seen.published > 0, seen
    assert seen.refused_clicks > 0 and seen.duplicates > 0, seen


def test_lifecycle_invariants_on_sqlite(tmp_path: Path) -> None:
    """Random events through the whole pipeline keep every lifecycle invariant (SQLite)."""
    seen = run(sqlite_factory(tmp_path), max_examples=20, steps=30)
    assert_exercised(seen)


@pytest.mark.postgres
def test_lifecycle_invariants_on_postgres() -> None:
    """The same on PostgreSQL, with fewer examples."""
    seen = run(postgres_factory, max_examples=8, steps=40)
    assert seen.stages[Stage.SIGN_OFF.value] > 0, seen
