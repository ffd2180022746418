"""`advance` against the real ledger: events in, state, audit and outbox effects out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.assessment import Assessment, Recommendation, Risk
from domain.lifecycle import AskRequester, Claim, Decide, Event, RequesterReplied, SubmitAssessment
from domain.people import Person
from domain.rules import Rules
from domain.signoff import Verdict
from domain.stages import Stage
from domain.ticket import Ticket
from govflow.advance import advance_request
from govflow.effects import EffectContext
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from integrations.db.audit import audit_trail
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import OutboxRow, RequestRow
from integrations.delivery import EffectKind

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # a Monday, 11:00 in Kuala Lumpur
KEY = "MODREQ-42"
EXPERT = Person(slack_id="U0EX00003", name="Fatima")
REQUESTER = Person(jira_account_id="acc-chloe", email="chloe.tan@example.com", name="Chloe")
QA = [Person(slack_id="U0QA00001"), Person(slack_id="U0QA00002")]
BPO = Person(slack_id="U0BP00001")
ALGO = Person(slack_id="U0AL00001")
OUTSIDER = Person(slack_id="U0MS00001")


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


def ticket() -> Ticket:
    """A complete review-standard change for product listing in SG."""
    return Ticket(
        key=KEY,
        id="10042",
        project="MODREQ",
        summary="Refurbished phones need grading proof",
        priority_name="Medium",
        reporter_account_id=REQUESTER.jira_account_id,
        reporter_email=REQUESTER.email,
        reporter_name="Chloe Tan",
        updated=NOW,
        values={
            "request_type": "Review standard change",
            "domain": "Product listing",
            "market": "SG",
            "summary": "Refurbished phones need grading proof",
            "description": "Refurbished phones are rejected inconsistently across BPO sites.",
            "business_justification": "Appeals on refurbished phones doubled.",
            "affected_sop": "SOP-LST-001",
            "proposed_change": "Accept refurbished phones that carry a grading certificate.",
        },
    )


class Driver:
    """Routes the ticket, then records events and advances, as the receiver and flow would."""

    def __init__(self, engine: Engine, rules: Rules) -> None:
        self.sessions = make_sessionmaker(engine)
        self.rules = rules
        self.ids = count(1)
        self.now = NOW
        with self.sessions.begin() as session:
            context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
            assert record_ticket(session, ticket(), context, NOW) is IntakeOutcome.ROUTED
            self.request_id = session.scalar(
                select(RequestRow.id).where(RequestRow.jira_key == KEY)
            )

    def send(self, event: Event) -> None:
        with self.sessions.begin() as session:
            assert self.request_id is not None
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
            assert self.request_id is not None
            summary = advance_request(session, self.request_id, context, self.now)
        return summary.applied, summary.refused

    def row(self) -> RequestRow:
        with self.sessions.begin() as session:
            row = session.get(RequestRow, self.request_id)
            assert row is not None
            return row

    def effects(self, kind: str) -> list[OutboxRow]:
        with self.sessions.begin() as session:
            query = select(OutboxRow).where(OutboxRow.kind == kind).order_by(OutboxRow.id)
            return list(session.scalars(query))

    def event_id(self) -> str:
        return f"evt-{next(self.ids)}"

    def claim(self, who: Person = EXPERT) -> Claim:
        return Claim(event_id=self.event_id(), actor=who, at=self.now)

    def assess(self, who: Person = EXPERT) -> SubmitAssessment:
        assessment = Assessment(
            recommendation=Recommendation.PROCEED,
            risk=Risk.MEDIUM,
            proposed_change="### 2.1 Grading\nAccept phones with a grading certificate.",
            affected_sops=("SOP-LST-001",),
            rationale="Appeals doubled.",
            author=who,
            submitted_at=self.now,
        )
        return SubmitAssessment(
            event_id=self.event_id(), actor=who, at=self.now, assessment=assessment
        )

    def decide(
        self, who: Person, team: str, verdict: Verdict = Verdict.APPROVE, reason: str = ""
    ) -> Decide:
        return Decide(
            event_id=self.event_id(),
            actor=who,
            at=self.now,
            team=team,
            verdict=verdict,
            reason=reason,
        )


@pytest.fixture
def driver(ledger: Engine, rules: Rules) -> Driver:
    return Driver(ledger, rules)


def approve_all(driver: Driver) -> None:
    for who in QA:
        driver.send(driver.decide(who, "qa"))
    driver.send(driver.decide(BPO, "bpo_ops"))
    driver.send(driver.decide(ALGO, "algorithm"))


class TestAdvance:
    def test_routing_posts_the_assignment_card(self, driver: Driver) -> None:
        """A routed request starts in expert review with its assignment card queued."""
        assert driver.row().stage == Stage.EXPERT_REVIEW
        replies = driver.effects(EffectKind.SLACK_REPLY)
        assert [r.idempotency_key for r in replies] == [f"{KEY}:assignment:0"]

    def test_claim_assess_and_signoff_reach_sop_update(self, driver: Driver) -> None:
        """Claim, a proceeding assessment and every team's quorum move the request to SOP update."""
        driver.send(driver.claim())
        driver.send(driver.assess())
        assert driver.advance() == (2, 0)
        assert driver.row().stage == Stage.SIGN_OFF
        cards = driver.effects(EffectKind.SLACK_POST)
        assert sorted(c.payload["channel"] for c in cards) == [
            "C0AL00001",
            "C0BP00001",
            "C0QA00001",
        ]
        approve_all(driver)
        assert driver.advance() == (4, 0)
        row = driver.row()
        assert row.stage == Stage.SOP_UPDATE
        statuses = [e.payload["status"] for e in driver.effects(EffectKind.JIRA_TRANSITION)]
        assert statuses[-2:] == ["Awaiting approval", "Implementing"]

    def test_quorum_of_two_waits_for_the_second_qa_approver(self, driver: Driver) -> None:
        """QA needs two approvals: one is not enough, whatever the other teams do."""
        driver.send(driver.claim())
        driver.send(driver.assess())
        driver.advance()
        driver.send(driver.decide(QA[0], "qa"))
        driver.send(driver.decide(BPO, "bpo_ops"))
        driver.send(driver.decide(ALGO, "algorithm"))
        driver.advance()
        assert driver.row().stage == Stage.SIGN_OFF
        driver.send(driver.decide(QA[1], "qa"))
        driver.advance()
        assert driver.row().stage == Stage.SOP_UPDATE

    def test_not_entitled_and_self_approval_change_nothing(self, driver: Driver) -> None:
        """An outsider's approval and the requester's own are refused and audited."""
        driver.send(driver.claim())
        driver.send(driver.assess())
        driver.advance()
        before = driver.row().state
        driver.send(driver.decide(OUTSIDER, "qa"))
        driver.send(driver.decide(REQUESTER, "qa"))
        assert driver.advance() == (0, 2)
        assert driver.row().state == before
        with driver.sessions.begin() as session:
            refused = [
                a for a in audit_trail(session, driver.request_id) if a.action == "event_refused"
            ]
        assert len(refused) == 2 and all(a.reason for a in refused)

    def test_advance_twice_changes_nothing(self, driver: Driver) -> None:
        """A second advance with no new events writes no state, effect or audit."""
        driver.send(driver.claim())
        driver.advance()
        with driver.sessions.begin() as session:
            effects = session.query(OutboxRow).count()
            trail = len(audit_trail(session, driver.request_id))
        assert driver.advance() == (0, 0)
        with driver.sessions.begin() as session:
            assert session.query(OutboxRow).count() == effects
            assert len(audit_trail(session, driver.request_id)) == trail

    def test_reject_ends_the_request_with_the_reason_on_jira(self, driver: Driver) -> None:
        """A rejection by an entitled approver ends the request; Jira hears why."""
        driver.send(driver.claim())
        driver.send(driver.assess())
        driver.advance()
        driver.send(driver.decide(BPO, "bpo_ops", Verdict.REJECT, "Sites cannot verify grades"))
        driver.advance()
        assert driver.row().stage == Stage.REJECTED
        comments = [e.payload["body"] for e in driver.effects(EffectKind.JIRA_COMMENT)]
        assert any("Sites cannot verify grades" in body for body in comments)

    def test_changes_requested_reopens_expert_review_with_a_new_card(self, driver: Driver) -> None:
        """Request changes returns to the expert; the next assessment opens a fresh round."""
        driver.send(driver.claim())
        driver.send(driver.assess())
        driver.advance()
        driver.send(driver.decide(QA[0], "qa", Verdict.REQUEST_CHANGES, "Say who grades"))
        driver.advance()
        assert driver.row().stage == Stage.EXPERT_REVIEW
        keys = [r.idempotency_key for r in driver.effects(EffectKind.SLACK_REPLY)]
        assert f"{KEY}:assignment:1" in keys
        driver.send(driver.assess())
        driver.advance()
        approve_all(driver)
        driver.advance()
        assert driver.row().stage == Stage.SOP_UPDATE

    def test_question_pauses_and_requester_reply_resumes(self, driver: Driver) -> None:
        """Asking the requester waits in NEEDS_INFO; their reply returns to the same stage."""
        driver.send(driver.claim())
        driver.send(
            AskRequester(
                event_id=driver.event_id(), actor=EXPERT, at=driver.now, question="Which grades?"
            )
        )
        driver.advance()
        assert driver.row().stage == Stage.NEEDS_INFO
        mention = f"[~accountid:{REQUESTER.jira_account_id}]"
        assert any(mention in e.payload["body"] for e in driver.effects(EffectKind.JIRA_COMMENT))
        driver.send(
            RequesterReplied(
                event_id=driver.event_id(),
                actor=REQUESTER,
                at=driver.now,
                body="A to C",
                comment_id="9",
            )
        )
        driver.advance()
        assert driver.row().stage == Stage.EXPERT_REVIEW


def test_events_before_routing_are_refused(ledger: Engine, rules: Rules) -> None:
    """An event for a request that never passed triage is refused, not applied."""
    sessions = make_sessionmaker(ledger)
    incomplete = ticket().model_copy(update={"values": {**ticket().values, "market": "TW"}})
    with sessions.begin() as session:
        record_ticket(session, incomplete, IntakeContext(rules=rules, jira_browse_url="x"), NOW)
        request_id = _request_id(session)
        record_event(
            session,
            request_id=request_id,
            kind="claim",
            actor="U0EX00003",
            payload=Claim(event_id="e", actor=EXPERT, at=NOW).model_dump(mode="json"),
            dedupe_key="e",
            now=NOW,
        )
    with sessions.begin() as session:
        context = EffectContext(rules=rules, jira_browse_url="x")
        summary = advance_request(session, request_id, context, NOW)
    assert (summary.applied, summary.refused) == (0, 1)


def _request_id(session: Session) -> int:
    value = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == KEY))
    assert value is not None
    return value


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_simultaneous_approvals_from_two_teams_both_count_and_advance_once(
    ledger: Engine, rules: Rules
) -> None:
    """The last two approvals, from different teams, race: both count, one stage change."""
    driver = Driver(ledger, rules)
    driver.send(driver.claim())
    driver.send(driver.assess())
    driver.advance()
    driver.send(driver.decide(QA[0], "qa"))
    driver.send(driver.decide(BPO, "bpo_ops"))
    driver.advance()
    last = [driver.decide(QA[1], "qa"), driver.decide(ALGO, "algorithm")]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def approve(event: Event) -> None:
        try:
            barrier.wait()
            driver.send(event)
            with driver.sessions.begin() as session:
                context = EffectContext(rules=rules, jira_browse_url="https://jira.example")
                advance_request(session, driver.request_id, context, driver.now)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(event,)) for event in last]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    row = driver.row()
    assert row.stage == Stage.SOP_UPDATE
    decisions = (row.state or {})["decisions"]
    assert {d["event_id"] for d in decisions} >= {e.event_id for e in last}
    with driver.sessions.begin() as session:
        moves = [
            a
            for a in audit_trail(session, driver.request_id)
            if a.action == "stage_changed"
            and a.detail.get("notice", {}).get("to_stage") == Stage.SOP_UPDATE
        ]
    assert len(moves) == 1
