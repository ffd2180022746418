"""Taking a click or a form (`govflow.decisions`), without Slack: plain calls on a ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import JiraError, NotEntitled
from domain.lifecycle import Claim, Decide, SubmitAssessment, apply, begin
from domain.people import Person
from domain.rules import Rules
from domain.signoff import Verdict
from govflow.decisions import OpenModal, Recorded, Refused, take_click, take_submission
from govflow.own_request import OnFile, confirm, on_file
from integrations.db.models import AuditRow, EventRow
from integrations.slack.action_ids import ActionId, InputId
from integrations.slack.interaction_parsing import ButtonClick, ModalSubmission
from tests.receiver.support import (
    FATIMA,
    HANNAH,
    LISTING_ROUTE,
    LUCAS,
    REQUESTER,
    assessment,
    now,
    person,
    request_row,
)

KEY = "MODREQ-71"


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions.begin() as session:
        yield session


def routed(session: Session, rules: Rules, *, signoff: bool, requester: Person = REQUESTER) -> int:
    """A request row for KEY in EXPERT_REVIEW (claimed), or in SIGN_OFF; its id."""
    at = now() - timedelta(minutes=5)
    route = next(r for r in rules.routing if r.name == LISTING_ROUTE)
    state = begin(KEY, requester, route, rules, at)
    expert = person(FATIMA)
    steps: list[Any] = [Claim(event_id="claim", actor=expert, at=at)]
    if signoff:
        done = assessment(expert, at)
        steps.append(SubmitAssessment(event_id="assess", actor=expert, at=at, assessment=done))
    for step in steps:
        state = apply(state, step, rules, rules.out_of_office, at).state
    row = request_row(KEY, state, LISTING_ROUTE, requester, at)
    session.add(row)
    session.flush()
    return row.id


def click(
    action: ActionId, user_id: str, *, team: str | None = "product", round: int = 1
) -> ButtonClick:
    """A click on a card of KEY (round 1: the first sign-off round; 0 before sign-off)."""
    return ButtonClick(
        action=action,
        jira_key=KEY,
        round=round,
        team=team,
        on_behalf_of=None,
        user_id=user_id,
        team_id=None,
        trigger_id="trigger-1",
        response_url=None,
        channel_id=None,
        message_ts=None,
        action_ts="1700000000.000100",
    )


def approval(actor: Person, key: str = "approve-1") -> Decide:
    return Decide(event_id=key, actor=actor, at=now(), team="product", verdict=Verdict.APPROVE)


def audits(session: Session, action: str) -> list[AuditRow]:
    return list(session.scalars(select(AuditRow).where(AuditRow.action == action)))


def test_an_allowed_approval_is_recorded_once(session: Session, rules: Rules) -> None:
    """The event and its `event_received` audit; the same click again records nothing."""
    request_id = routed(session, rules, signoff=True)
    hannah = person(HANNAH)
    at = now()
    first = take_click(
        session, rules, click(ActionId.APPROVE, HANNAH.id), hannah, approval(hannah), at
    )
    again = take_click(
        session, rules, click(ActionId.APPROVE, HANNAH.id), hannah, approval(hannah), at
    )

    assert first == Recorded(request_id=request_id, new=True)
    assert again == Recorded(request_id=request_id, new=False)
    [event] = session.scalars(select(EventRow).where(EventRow.kind == "decide"))
    assert event.actor == hannah.email
    [received] = audits(session, "event_received")
    assert received.detail["via"] == "slack"


def test_a_click_the_domain_refuses_is_audited_and_not_recorded(
    session: Session, rules: Rules
) -> None:
    """Someone off the product roster approving for product: refused with the reason."""
    request_id = routed(session, rules, signoff=True)
    lucas = person(LUCAS)

    outcome = take_click(
        session, rules, click(ActionId.APPROVE, LUCAS.id), lucas, approval(lucas), now()
    )

    assert isinstance(outcome, Refused)
    assert outcome.request_id == request_id and outcome.reason
    assert list(session.scalars(select(EventRow).where(EventRow.kind == "decide"))) == []
    [refused] = audits(session, "action_refused")
    assert refused.reason == outcome.reason
    assert refused.detail == {"action": "govflow.approve", "jira_key": KEY, "team": "product"}


def test_a_click_on_an_unknown_request_is_refused(session: Session, rules: Rules) -> None:
    """No request: the person is told so, and the refusal is audited on no request."""
    hannah = person(HANNAH)
    outcome = take_click(
        session, rules, click(ActionId.APPROVE, HANNAH.id), hannah, approval(hannah), now()
    )

    assert outcome == Refused(f"govflow has no request {KEY}")
    [refused] = audits(session, "action_refused")
    assert refused.request_id is None


def test_a_form_button_opens_its_form_for_whoever_may_use_it(
    session: Session, rules: Rules
) -> None:
    """The expert's Assess button: the modal's view, nothing recorded; an outsider: refused."""
    request_id = routed(session, rules, signoff=False)
    assess = click(ActionId.ASSESS, FATIMA.id, team=None, round=0)

    opened = take_click(session, rules, assess, person(FATIMA), None, now())
    outsider = take_click(
        session,
        rules,
        click(ActionId.ASSESS, LUCAS.id, team=None, round=0),
        person(LUCAS),
        None,
        now(),
    )

    assert isinstance(opened, OpenModal) and opened.request_id == request_id
    assert opened.view["callback_id"] == ActionId.ASSESS
    assert isinstance(outsider, Refused)
    assert list(session.scalars(select(EventRow))) == []


def test_a_submission_of_an_earlier_round_is_refused(session: Session, rules: Rules) -> None:
    """A rejection form opened on round 0's card: refused, pointing at the newer card."""
    routed(session, rules, signoff=True)
    hannah = person(HANNAH)
    sub = ModalSubmission(
        callback=ActionId.REJECT,
        jira_key=KEY,
        round=0,
        team="product",
        user_id=HANNAH.id,
        view_id="V0001",
        view_hash="h1",
        values={InputId.REASON: "no"},
        channel_id=None,
        message_ts=None,
    )
    reject = Decide(
        event_id="reject-1",
        actor=hannah,
        at=now(),
        team="product",
        verdict=Verdict.REJECT,
        reason="no",
    )

    outcome = take_submission(session, rules, sub, hannah, reject, now())

    assert isinstance(outcome, Refused)
    assert "round 0" in outcome.reason and "use the newer card" in outcome.reason
    [refused] = audits(session, "action_refused")
    assert refused.detail["action"] == "govflow.reject"


class Accounts:
    """Jira's user search, as a table (or failing, as Jira can)."""

    def __init__(self, ids: dict[str, list[str]], *, down: bool = False) -> None:
        self.ids = ids
        self.down = down

    def account_ids(self, email: str, *, since: Any) -> list[str]:
        if self.down:
            raise JiraError("Jira is down")
        return self.ids.get(email, [])


class NoEmails:
    def email(self, slack_id: str) -> str | None:
        return None


HIDDEN = Person(jira_account_id="acc-hidden", name="Someone")


def test_the_requester_behind_a_hidden_email_is_learned(session: Session, rules: Rules) -> None:
    """Jira names the clicker's email as the requester's account: the requester is learned."""
    routed(session, rules, signoff=True, requester=HIDDEN)
    hannah = person(HANNAH)
    found = on_file(session, rules, KEY, hannah, now())
    assert isinstance(found, OnFile) and found.requester == HIDDEN

    actor, learned = confirm(
        found, hannah, Accounts({hannah.email or "": ["acc-hidden"]}), NoEmails()
    )

    assert actor.jira_account_id == "acc-hidden"
    assert learned is not None and learned.email == hannah.email
    # Approving one's own request is refused once the requester is known.
    outcome = take_click(
        session, rules, click(ActionId.APPROVE, HANNAH.id), actor, approval(actor), now(), learned
    )
    assert isinstance(outcome, Refused)


def test_when_jira_cannot_say_the_click_is_refused(session: Session, rules: Rules) -> None:
    """No answer from Jira: NotEntitled, so nobody approves what they may have filed."""
    routed(session, rules, signoff=True, requester=HIDDEN)
    hannah = person(HANNAH)
    found = on_file(session, rules, KEY, hannah, now())

    with pytest.raises(NotEntitled, match="could not confirm you did not file"):
        confirm(found, hannah, Accounts({}, down=True), NoEmails())
    assert confirm(None, hannah, Accounts({}, down=True), NoEmails()) == (hannah, None)
