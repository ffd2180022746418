"""The SOP update step through the ledger: from a Jira ticket to a published, announced version.

Driver-style like tests/govflow/test_advance.py: tickets are recorded and routed, events
recorded as the receiver would, and `advance_request` applies them. That published versions
cannot be changed afterwards is the registry's own guarantee, tested in
tests/integrations/db/test_sops.py (`TestImmutability`: UPDATE and DELETE refused by trigger on
both backends).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.assessment import Assessment, Recommendation, Risk
from domain.lifecycle import (
    Claim,
    Decide,
    EditDraft,
    Event,
    PublishSop,
    RequestState,
    SubmitAssessment,
)
from domain.people import Person
from domain.rules import Rules
from domain.signoff import Verdict
from domain.stages import Stage
from domain.ticket import Ticket
from govflow.advance import advance_request
from govflow.effects import EffectContext
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from govflow.sop_import import import_sops
from integrations.db.audit import audit_trail
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import OutboxRow, RequestRow
from integrations.db.sops import latest_version, list_versions
from integrations.delivery import EffectKind

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Bangkok
SOP = "SOP-LST-001"
EXPERT = Person(slack_id="U0EX00003", name="Fatima")
REQUESTER = Person(jira_account_id="acc-chloe", email="chloe.tan@example.com", name="Chloe")
APPROVERS = [
    (Person(slack_id="U0QA00001"), "qa"),
    (Person(slack_id="U0QA00002"), "qa"),
    (Person(slack_id="U0BP00001"), "bpo_ops"),
    (Person(slack_id="U0AL00001"), "algorithm"),
]
GRADING = (
    "### 4.2 Identify the item\n\n"
    "1. Decide what the item actually is from the images first.\n"
    "2. A refurbished phone is listed as refurbished only with a grading certificate.\n"
)
PURPOSE = "## 1. Purpose\n\nThis SOP tells listing reviewers how to judge listings.\n"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


def ticket(key: str, summary: str) -> Ticket:
    """A complete review-standard change for product listing in SG."""
    return Ticket(
        key=key,
        id=key.split("-")[1],
        project="MODREQ",
        summary=summary,
        priority_name="Medium",
        reporter_account_id=REQUESTER.jira_account_id,
        reporter_email=REQUESTER.email,
        reporter_name="Chloe Tan",
        updated=NOW,
        values={
            "request_type": "Review standard change",
            "domain": "Product listing",
            "market": "SG",
            "summary": summary,
            "description": "Refurbished phones are rejected inconsistently across BPO sites.",
            "business_justification": "Appeals on refurbished phones doubled.",
            "affected_sop": SOP,
            "proposed_change": "Accept refurbished phones that carry a grading certificate.",
        },
    )


class Driver:
    """One request in a shared ledger: record events as the receiver would, then advance."""

    ids = count(1)

    def __init__(self, engine: Engine, rules: Rules, key: str, summary: str) -> None:
        self.sessions = make_sessionmaker(engine)
        self.rules = rules
        self.key = key
        self.now = NOW
        with self.sessions.begin() as session:
            context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
            outcome = record_ticket(session, ticket(key, summary), context, NOW)
            assert outcome is IntakeOutcome.ROUTED
            found = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == key))
            assert found is not None
            self.request_id: int = found

    def send(self, event: Event) -> None:
        with self.sessions.begin() as session:
            record_event(
                session,
                request_id=self.request_id,
                kind=event.kind,
                actor=event.actor.slack_id or event.actor.email,
                payload=event.model_dump(mode="json"),
                dedupe_key=event.event_id,
                now=self.now,
            )

    def advance(self) -> tuple[int, int]:
        self.now += timedelta(minutes=5)
        context = EffectContext(rules=self.rules, jira_browse_url="https://jira.example")
        with self.sessions.begin() as session:
            summary = advance_request(session, self.request_id, context, self.now)
        return summary.applied, summary.refused

    def state(self) -> RequestState:
        with self.sessions.begin() as session:
            row = session.get(RequestRow, self.request_id)
            assert row is not None and row.state is not None
            return RequestState.model_validate(row.state)

    def effects(self, kind: str | None = None) -> list[OutboxRow]:
        with self.sessions.begin() as session:
            query = select(OutboxRow).where(OutboxRow.request_id == self.request_id)
            if kind is not None:
                query = query.where(OutboxRow.kind == kind)
            return list(session.scalars(query.order_by(OutboxRow.id)))

    def meta(self, who: Person) -> dict[str, object]:
        return {"event_id": f"{self.key}:evt-{next(self.ids)}", "actor": who, "at": self.now}

    def to_sop_update(self, change: str = GRADING) -> None:
        """Claim, assess with `change`, and every team approves."""
        assessment = Assessment(
            recommendation=Recommendation.PROCEED,
            risk=Risk.MEDIUM,
            proposed_change=change,
            affected_sops=(SOP,),
            rationale="Appeals doubled.",
            author=EXPERT,
            submitted_at=self.now,
        )
        self.send(Claim.model_validate(self.meta(EXPERT)))
        self.send(SubmitAssessment.model_validate({**self.meta(EXPERT), "assessment": assessment}))
        assert self.advance() == (2, 0)
        assert self.state().stage is Stage.SIGN_OFF
        self.approve_all()

    def approve_all(self) -> None:
        for who, team in APPROVERS:
            fields = {"team": team, "verdict": Verdict.APPROVE}
            self.send(Decide.model_validate({**self.meta(who), **fields}))
        self.advance()
        assert self.state().stage is Stage.SOP_UPDATE

    def publish(self) -> PublishSop:
        event = PublishSop.model_validate(self.meta(EXPERT))
        self.send(event)
        self.advance()
        return event

    def edit(self, change: str) -> None:
        fields = {"sop_id": SOP, "change": change}
        self.send(EditDraft.model_validate({**self.meta(EXPERT), **fields}))
        self.advance()


@pytest.fixture
def registry(ledger: Engine, rules: Rules) -> Engine:
    """A ledger whose SOP registry holds the shipped SOPs, as start-up leaves it."""
    with make_sessionmaker(ledger).begin() as session:
        report = import_sops(session, DEFAULT_RULES.parent / rules.sops.directory, NOW, rules=rules)
        assert SOP in report.new
    return ledger


def announcements(driver: Driver) -> list[str]:
    return [
        e.idempotency_key
        for e in driver.effects(EffectKind.SLACK_POST)
        if ":announce:" in e.idempotency_key
    ]


class TestTicketToPublishedVersion:
    def test_a_signed_off_change_is_published_announced_and_done(
        self, registry: Engine, rules: Rules
    ) -> None:
        """Ticket -> drafts on the approval cards -> owner card -> v2, announcement, Jira Done."""
        driver = Driver(registry, rules, "MODREQ-42", "Refurbished phones need grading proof")
        driver.to_sop_update()
        approval_cards = [
            e for e in driver.effects(EffectKind.SLACK_POST) if ":approval:1:" in e.idempotency_key
        ]
        assert len(approval_cards) == 3
        assert all("Draft of SOP-LST-001" in str(c.payload["blocks"]) for c in approval_cards)
        posts = driver.effects(EffectKind.SLACK_POST)
        (owner_card,) = [e for e in posts if e.idempotency_key.endswith(":sop_update:1")]
        assert owner_card.payload["channel"] == "C0EX00001"  # listing_experts, the SOP owner
        assert "govflow.sop_publish" in str(owner_card.payload["blocks"])
        driver.publish()
        assert driver.state().stage is Stage.DONE
        with driver.sessions.begin() as session:
            v2 = latest_version(session, SOP)
            trail = [a.action for a in audit_trail(session, driver.request_id)]
        assert (v2.version, v2.based_on_version, v2.jira_key) == (2, 1, "MODREQ-42")
        assert "grading certificate" in v2.text and v2.author == "U0EX00003"
        assert v2.changelog == "MODREQ-42: Refurbished phones need grading proof"
        assert v2.effective_date == NOW.date()
        assert trail.count("sop_published") == 1
        assert announcements(driver) == ["MODREQ-42:announce:SOP-LST-001:2:C0TR00001"]
        statuses = [e.payload["status"] for e in driver.effects(EffectKind.JIRA_TRANSITION)]
        assert statuses[-1] == "Done"
        comments = [e.payload["body"] for e in driver.effects(EffectKind.JIRA_COMMENT)]
        assert any("SOP-LST-001 version 2, effective 2026-11-30" in c for c in comments)

    def test_the_step_run_twice_announces_once(self, registry: Engine, rules: Rules) -> None:
        """Advancing again, redelivering the click or clicking Publish again adds nothing."""
        driver = Driver(registry, rules, "MODREQ-42", "Refurbished phones need grading proof")
        driver.to_sop_update()
        click = driver.publish()
        before = len(driver.effects())
        assert driver.advance() == (0, 0)
        driver.send(click)  # Slack's redelivery: the same event id, recorded once
        assert driver.advance() == (0, 0)
        driver.publish()  # a second click: refused, the request is done
        assert len(driver.effects()) == before
        assert len(announcements(driver)) == 1
        with driver.sessions.begin() as session:
            assert [v.version for v in list_versions(session, SOP)] == [1, 2]


class TestEditAfterSignoff:
    def test_an_edit_sends_the_change_through_signoff_again(
        self, registry: Engine, rules: Rules
    ) -> None:
        """The owner's edit opens round 2 with new cards and says why on Slack and Jira."""
        driver = Driver(registry, rules, "MODREQ-42", "Refurbished phones need grading proof")
        driver.to_sop_update()
        driver.edit(GRADING.replace("grading certificate", "grading certificate from a lab"))
        state = driver.state()
        assert (state.stage, state.round) == (Stage.SIGN_OFF, 2)
        keys = [e.idempotency_key for e in driver.effects()]
        assert sum(":approval:2:" in k for k in keys) == 3
        comments = [e.payload["body"] for e in driver.effects(EffectKind.JIRA_COMMENT)]
        assert any("Sign-off needed again" in c and "edited the draft" in c for c in comments)
        replies = [str(e.payload["blocks"]) for e in driver.effects(EffectKind.SLACK_REPLY)]
        assert any("no longer hold" in r for r in replies)
        updates = driver.effects(EffectKind.SLACK_CARD_UPDATE)
        assert any(u.payload["card"].endswith(":sop_update:1") for u in updates)
        driver.approve_all()
        driver.publish()
        with driver.sessions.begin() as session:
            assert "from a lab" in latest_version(session, SOP).text


class TestTwoRequestsOneSop:
    def test_changes_to_different_sections_rebase_cleanly(
        self, registry: Engine, rules: Rules
    ) -> None:
        """B was drafted on v1; A published v2; B is rebased, re-approved, and makes v3."""
        first = Driver(registry, rules, "MODREQ-42", "Refurbished phones need grading proof")
        second = Driver(registry, rules, "MODREQ-43", "Say who the SOP is for")
        first.to_sop_update()
        second.to_sop_update(PURPOSE)
        first.publish()
        second.publish()
        state = second.state()
        assert (state.stage, state.round, state.drafts[0].base_version) == (Stage.SIGN_OFF, 2, 2)
        comments = [e.payload["body"] for e in second.effects(EffectKind.JIRA_COMMENT)]
        assert any("SOP-LST-001 v2" in c for c in comments)
        second.approve_all()
        second.publish()
        with second.sessions.begin() as session:
            v3 = latest_version(session, SOP)
        assert v3.version == 3 and v3.based_on_version == 2
        assert "grading certificate" in v3.text and "how to judge listings" in v3.text

    def test_changes_to_the_same_lines_stop_at_an_explicit_conflict(
        self, registry: Engine, rules: Rules
    ) -> None:
        """Both rewrote section 4.2: nothing is overwritten; the owner resolves, sign-off again."""
        first = Driver(registry, rules, "MODREQ-42", "Refurbished phones need grading proof")
        second = Driver(registry, rules, "MODREQ-43", "Used phones need a warranty")
        first.to_sop_update()
        second.to_sop_update(GRADING.replace("grading certificate", "warranty card"))
        first.publish()
        second.publish()
        state = second.state()
        assert state.stage is Stage.SOP_UPDATE and state.conflicts[0].current_version == 2
        with second.sessions.begin() as session:
            assert latest_version(session, SOP).version == 2
        replies = [str(e.payload["blocks"]) for e in second.effects(EffectKind.SLACK_REPLY)]
        assert any("&lt;&lt;&lt;&lt;&lt;&lt;&lt; draft" in r for r in replies)
        second.edit(GRADING.replace("grading certificate", "grading certificate or warranty"))
        state = second.state()
        assert state.stage is Stage.SIGN_OFF and not state.conflicts
        assert state.drafts[0].base_version == 2
