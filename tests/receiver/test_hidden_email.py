"""Self-approval when Jira hides the requester's email: the receiver asks Jira who clicked.

The requester is known by Jira account id only (Cloud privacy settings); the clicker by Slack
id and email. The receiver looks the clicker's email up with Jira's `user/search` (cached in
the ledger) and compares accounts, and refuses when Jira cannot say.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.people import Person
from integrations.db.delegations import add_delegation
from integrations.db.models import IdentityRow
from integrations.slack.action_ids import ActionId
from sandbox.faults import Fault, FaultKind
from sandbox.jira_server import JiraSandbox
from sandbox.slack.seed import UserSeed
from tests.receiver.support import (
    HANNAH,
    KENJI,
    PRODUCT_CHANNEL,
    Stack,
    audits,
    events,
    make_request,
    now,
    post_approval_card,
)
from tests.support.waiting import eventually

ALGORITHM_CHANNEL = "C0AL00001"
SEARCH = "GET user/search"


def jira_account(jira: JiraSandbox, user: UserSeed, *, email_visible: bool) -> str:
    """The Jira account of a seeded Slack user, created once per stand-in."""
    found = next((u for u in jira.state.users.values() if u.email == user.email), None)
    if found is not None:
        found.email_visible = email_visible
        return found.account_id
    return jira.add_user(user.email, user.real_name, email_visible=email_visible)


def hidden_requester(stack: Stack, user: UserSeed) -> Person:
    """`user` as intake knows them when Jira hides their email: an account id only."""
    account = jira_account(stack.jira, user, email_visible=False)
    return Person(jira_account_id=account, name=user.real_name)


def searches(stack: Stack) -> int:
    """How many user/search calls the Jira stand-in answered or refused."""
    return sum(1 for r in stack.jira.requests() if r.operation == SEARCH)


@pytest.fixture(autouse=True)
def _fresh_jira_log(stack: Stack) -> None:
    stack.jira.clear_requests()
    stack.jira.clear_faults()


class TestHiddenRequesterEmail:
    """Approvals on a request whose requester Jira shows without an email."""

    def test_requester_approving_from_slack_is_refused(self, stack: Stack) -> None:
        """The same human, by Slack id and email, is found in Jira and refused; nothing kept."""
        requester = hidden_requester(stack, HANNAH)
        request_id, state = make_request(stack, "MODREQ-61", signoff=True, requester=requester)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        answer = stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)

        assert answer.status == 200
        [told] = eventually(
            lambda: stack.slack.ephemerals(user=HANNAH.id), timeout=5, interval=0.02
        )
        assert "You filed MODREQ-61" in told.text
        assert events(stack) == []
        [refused] = audits(stack, "action_refused")
        assert refused.request_id == request_id
        assert "You filed MODREQ-61" in refused.reason
        assert stack.triggered() == []

    def test_another_approver_passes_and_carries_their_account(self, stack: Stack) -> None:
        """A different person is recorded, with the Jira account `advance` compares too."""
        requester = hidden_requester(stack, HANNAH)
        kenji = jira_account(stack.jira, KENJI, email_visible=True)
        request_id, state = make_request(stack, "MODREQ-62", signoff=True, requester=requester)
        ts = post_approval_card(stack, state, "algorithm", ALGORITHM_CHANNEL)

        stack.slack.click(ALGORITHM_CHANNEL, ts, ActionId.APPROVE, KENJI.id)

        [event] = events(stack)
        assert event.payload["team"] == "algorithm"
        assert event.payload["actor"]["jira_account_id"] == kenji
        assert event.payload["actor"]["email"] == KENJI.email
        assert stack.triggered() == [request_id]

    def test_lookup_is_cached_in_the_ledger(self, stack: Stack) -> None:
        """A second click by the same person costs no second user/search."""
        requester = hidden_requester(stack, HANNAH)
        _, state = make_request(stack, "MODREQ-63", signoff=True, requester=requester)
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)
        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)

        told = eventually(
            lambda: len(stack.slack.ephemerals(user=HANNAH.id)) == 2, timeout=5, interval=0.02
        )
        assert told
        assert all("You filed" in t.text for t in stack.slack.ephemerals(user=HANNAH.id))
        assert searches(stack) == 1
        with stack.sessions.begin() as session:
            row = session.scalar(select(IdentityRow).where(IdentityRow.email == HANNAH.email))
            assert row is not None
            assert row.jira_account_ids == [requester.jira_account_id]
        assert events(stack) == []

    def test_nobody_approves_in_the_requesters_name(self, stack: Stack) -> None:
        """The requester's delegate cannot cast the requester's vote on their own request."""
        requester = hidden_requester(stack, HANNAH)
        _, state = make_request(stack, "MODREQ-64", signoff=True, requester=requester)
        with stack.sessions.begin() as session:
            today = now().date()
            add_delegation(
                session,
                approver=HANNAH.id,
                delegate=KENJI.id,
                start=today - timedelta(days=1),
                until=today + timedelta(days=1),
                created_by=HANNAH.id,
                now=now(),
            )
        ts = post_approval_card(stack, state, "product", PRODUCT_CHANNEL)

        stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, KENJI.id)

        [told] = eventually(lambda: stack.slack.ephemerals(user=KENJI.id), timeout=5, interval=0.02)
        assert told.text == "Hannah Schulz filed MODREQ-64, so nobody can approve it in their name"
        assert events(stack) == []
        assert len(audits(stack, "action_refused")) == 1
        assert stack.triggered() == []


class TestJiraCannotSay:
    """Without Jira's answer govflow cannot tell the clicker from the requester: it refuses."""

    @pytest.mark.parametrize(
        "fault",
        [Fault(FaultKind.SERVER_ERROR, status=503), Fault(FaultKind.LATENCY, delay=3.0)],
        ids=["error", "timeout"],
    )
    def test_refused_with_try_again(self, stack: Stack, fault: Fault) -> None:
        """An error or a Jira too slow to answer: refused, audited, nothing recorded."""
        requester = hidden_requester(stack, HANNAH)
        request_id, state = make_request(stack, "MODREQ-65", signoff=True, requester=requester)
        ts = post_approval_card(stack, state, "algorithm", ALGORITHM_CHANNEL)
        stack.jira.add_fault(SEARCH, fault)

        answer = stack.slack.click(ALGORITHM_CHANNEL, ts, ActionId.APPROVE, KENJI.id)

        assert answer.status == 200
        [told] = eventually(lambda: stack.slack.ephemerals(user=KENJI.id), timeout=5, interval=0.02)
        assert "govflow could not confirm you did not file MODREQ-65" in told.text
        assert "try again" in told.text
        assert events(stack) == []
        [refused] = audits(stack, "action_refused")
        assert refused.request_id == request_id
        assert "could not confirm" in refused.reason
        assert stack.triggered() == []

    def test_requester_with_visible_email_needs_no_jira(self, stack: Stack) -> None:
        """Known emails are compared as before: Jira is not asked at all."""
        _, state = make_request(stack, "MODREQ-66", signoff=True)
        ts = post_approval_card(stack, state, "algorithm", ALGORITHM_CHANNEL)

        stack.slack.click(ALGORITHM_CHANNEL, ts, ActionId.APPROVE, KENJI.id)

        assert len(events(stack)) == 1
        assert searches(stack) == 0
