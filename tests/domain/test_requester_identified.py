"""`RequesterIdentified`: the requester's Slack id learned after routing (Slack was down)."""

from __future__ import annotations

import pytest

from domain.errors import NotEntitled
from domain.lifecycle import GOVFLOW, RequesterIdentified
from domain.notices import Notice
from domain.people import Person
from domain.stages import Stage
from tests.domain.test_lifecycle import PRIYA, Flow, kinds, make_route

TOMAS_EMAIL = "tomas.herrera@example.com"
# Tomas (QA, U0QA00002) as Jira shows him: account and email, no Slack id yet.
TOMAS_IN_JIRA = Person(jira_account_id="acc-tomas", email=TOMAS_EMAIL, name="Tomas Herrera")


def identify(
    flow: Flow, slack_id: str = "U0QA00002", *, email: str = TOMAS_EMAIL, actor: Person = GOVFLOW
) -> tuple[Notice, ...]:
    """govflow records that the requester's email is Slack user `slack_id`."""
    fields = {"email": email, "slack_id": slack_id}
    return flow.send(RequesterIdentified.model_validate({**flow.meta(actor, None), **fields}))


def qa_only_request() -> Flow:
    """Tomas filed it; QA (quorum all: Priya and Tomas) is the only sign-off team."""
    return Flow.start(route=make_route(("qa",)), requester=TOMAS_IN_JIRA)


def test_an_all_team_waiting_only_for_the_requester_signs_off() -> None:
    """Priya approved; QA waited for Tomas, who may not decide: identifying him completes it."""
    flow = qa_only_request().to_signoff()
    flow.decide(PRIYA, "qa")
    waiting = flow.state.stage
    assert waiting is Stage.SIGN_OFF

    notices = identify(flow)

    assert kinds(notices) == [
        "requester_matched",
        "team_signed_off",
        "signoff_complete",
        "stage_changed",
    ]
    assert flow.state.stage is Stage.SOP_UPDATE
    assert flow.state.requester.slack_id == "U0QA00002"
    assert flow.state.requester.jira_account_id == "acc-tomas"


def test_in_expert_review_only_the_requester_changes() -> None:
    """Before sign-off there is nothing to settle; the roster counts him out from now on."""
    flow = qa_only_request()

    notices = identify(flow)

    assert kinds(notices) == ["requester_matched"]
    assert flow.state.stage is Stage.EXPERT_REVIEW
    assert flow.state.requester.slack_id == "U0QA00002"


def test_a_known_id_or_another_email_changes_nothing() -> None:
    """A second identification, or one for an email no longer the requester's, is a no-op."""
    flow = qa_only_request()
    identify(flow)
    before = flow.state.requester

    assert identify(flow, "U0QA00009") == ()
    assert flow.state.requester == before
    other = qa_only_request()
    assert identify(other, email="someone.else@example.com") == ()
    assert other.state.requester.slack_id is None


def test_only_govflow_records_it() -> None:
    """A forged event by a person is refused; the requester stays counted, state untouched."""
    flow = qa_only_request()
    before = flow.state

    with pytest.raises(NotEntitled):
        identify(flow, actor=PRIYA)
    assert flow.state == before
