"""What the receiver tests share: the running stack, a recording trigger, requests and cards."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from domain.assessment import Assessment, Recommendation, Risk
from domain.lifecycle import Claim, Event, RequestState, SubmitAssessment, apply, begin
from domain.people import Person
from domain.rules import Rules
from integrations.db.models import AuditRow, DelegationRow, EventRow, RequestRow
from integrations.slack.approval_card import approval_view, render_approval_card
from integrations.slack.assignment_card import assignment_view, render_assignment_card
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE, UserSeed

SIGNING_SECRET = "receiver-test-signing-secret"
WEBHOOK_SECRET = "receiver-test-webhook-secret"
BOT = EXAMPLE_WORKSPACE.bot
FATIMA = EXAMPLE_WORKSPACE.user_by_email("fatima.zahra@example.com")  # listing expert lead
ELENA = EXAMPLE_WORKSPACE.user_by_email("elena.petrova@example.com")  # listing expert
HANNAH = EXAMPLE_WORKSPACE.user_by_email("hannah.schulz@example.com")  # product approver
KENJI = EXAMPLE_WORKSPACE.user_by_email("kenji.watanabe@example.com")  # algorithm approver
PRIYA = EXAMPLE_WORKSPACE.user_by_email("priya.raman@example.com")  # QA lead
TOMAS = EXAMPLE_WORKSPACE.user_by_email("tomas.herrera@example.com")  # QA
LUCAS = EXAMPLE_WORKSPACE.user_by_email("lucas.martin@example.com")  # merchant services
PRODUCT_CHANNEL = EXAMPLE_WORKSPACE.channel_by_name("product-moderation").id
LISTING_CHANNEL = EXAMPLE_WORKSPACE.channel_by_name("listing-experts").id
# Expert: listing_experts; sign-off: product (any) and algorithm (any).
LISTING_ROUTE = "listing-policy-change"
REQUESTER = Person(
    jira_account_id="acc-aisyah", email="aisyah.rahman@example.com", name="Aisyah Rahman"
)


class RecordingTrigger:
    """A hand-written AdvanceTrigger: remembers which requests it was asked to advance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[int] = []

    def __call__(self, request_id: int) -> None:
        """Remember the request instead of starting a Prefect run."""
        with self._lock:
            self.calls.append(request_id)


@dataclass
class Stack:
    """A running receiver and everything a test drives or inspects around it."""

    url: str
    slack: SlackSandbox
    jira: JiraSandbox
    sessions: sessionmaker[Session]
    rules: Rules
    trigger: RecordingTrigger
    app: Starlette

    def triggered(self) -> list[int]:
        """The requests advanced once every follow-up of what was delivered so far has run."""
        assert self.app.state.follow_ups.join(timeout=10), "follow-ups did not finish"
        return list(self.trigger.calls)


def person(user: UserSeed) -> Person:
    """A seeded Slack user as govflow knows people."""
    return Person(slack_id=user.id, email=user.email, name=user.real_name)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def assessment(author: Person, at: datetime) -> Assessment:
    """A PROCEED assessment by `author`."""
    return Assessment(
        recommendation=Recommendation.PROCEED,
        risk=Risk.MEDIUM,
        proposed_change="@replace\nRefurbished phones may be listed with a grade label.",
        affected_sops=("SOP-LST-001",),
        rationale="Sellers and buyers both benefit; grading keeps listings honest.",
        author=author,
        submitted_at=at,
    )


def make_request(
    stack: Stack,
    key: str,
    *,
    requester: Person = REQUESTER,
    route: str = LISTING_ROUTE,
    signoff: bool = False,
    events: tuple[Event, ...] = (),
) -> tuple[int, RequestState]:
    """A routed request row in EXPERT_REVIEW (or SIGN_OFF), its state built by the domain."""
    at = now() - timedelta(minutes=5)
    found = next(r for r in stack.rules.routing if r.name == route)
    state = begin(key, requester, found, stack.rules, at)
    steps: list[Event] = list(events)
    if signoff:
        expert = person(FATIMA)
        steps = [
            Claim(event_id=f"{key}:claim", actor=expert, at=at),
            SubmitAssessment(
                event_id=f"{key}:assess", actor=expert, at=at, assessment=assessment(expert, at)
            ),
            *steps,
        ]
    for step in steps:
        state = apply(state, step, stack.rules, stack.rules.out_of_office, at).state
    with stack.sessions.begin() as session:
        row = request_row(key, state, route, requester, at)
        session.add(row)
        session.flush()
        return row.id, state


def request_row(
    key: str, state: RequestState, route: str, requester: Person, at: datetime
) -> RequestRow:
    """The ledger row of a routed request in `state`, as intake would have left it."""
    return RequestRow(
        jira_key=key,
        jira_id=key.rsplit("-", 1)[1],
        project=key.rsplit("-", 1)[0],
        summary=f"Summary of {key}",
        stage=state.stage.value,
        expert_team=state.expert_team,
        route_name=route,
        requester_email=requester.email,
        requester_account_id=requester.jira_account_id,
        facts={},
        state=state.model_dump(mode="json"),
        fingerprint="",
        jira_updated=at,
        created_at=at,
        updated_at=at,
    )


def post_approval_card(stack: Stack, state: RequestState, team: str, channel: str) -> str:
    """Post `team`'s live approval card as the bot; returns the message ts."""
    view = approval_view(
        state,
        team,
        stack.rules,
        summary=f"Summary of {state.key}",
        jira_url=f"https://jira.example.com/browse/{state.key}",
        thread_url="https://example.slack.com/archives/C0/p1",
    )
    text, blocks = render_approval_card(view)
    return stack.slack.post_as_user(channel, BOT.id, text, blocks=blocks).ts


def post_assignment_card(stack: Stack, state: RequestState, channel: str) -> str:
    """Post the expert team's live assignment card as the bot; returns the message ts."""
    view = assignment_view(
        state,
        stack.rules,
        summary=f"Summary of {state.key}",
        jira_url=f"https://jira.example.com/browse/{state.key}",
        thread_url="https://example.slack.com/archives/C0/p1",
    )
    text, blocks = render_assignment_card(view)
    return stack.slack.post_as_user(channel, BOT.id, text, blocks=blocks).ts


def events(stack: Stack, kind: str | None = None) -> list[EventRow]:
    """Every event row in the ledger (of one kind), oldest first."""
    with stack.sessions.begin() as session:
        query = select(EventRow).order_by(EventRow.id)
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        return list(session.scalars(query))


def audits(stack: Stack, action: str) -> list[AuditRow]:
    """Every audit record with this action, oldest first."""
    with stack.sessions.begin() as session:
        query = select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)
        return list(session.scalars(query))


def delegations(stack: Stack) -> list[DelegationRow]:
    """Every delegation row, oldest first."""
    with stack.sessions.begin() as session:
        return list(session.scalars(select(DelegationRow).order_by(DelegationRow.id)))


def detail(row: AuditRow) -> dict[str, Any]:
    """An audit record's detail as a plain dict."""
    return dict(row.detail)
