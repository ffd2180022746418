"""Entitlement: who may act, for whom, and the refusal each clicker reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from domain.entitlement import (
    ActingAs,
    Action,
    Delegation,
    DelegationLike,
    as_delegations,
    authorize,
    eligible_roster,
    local_date,
)
from domain.errors import InvalidTransition, NotEntitled
from domain.lifecycle import RequestState
from domain.people import Person
from domain.rules import OutOfOffice
from domain.signoff import Verdict
from tests.domain.test_lifecycle import (
    AISHA,
    DANIEL,
    ELENA,
    GRACE,
    HANNAH,
    LUCAS,
    MARCO,
    OUTSIDER,
    PRIYA,
    TOMAS,
    Flow,
    make_rules,
)

ON = date(2026, 12, 5)
RULES = make_rules()
AISHA_FOR_PRIYA = Delegation(
    approver=PRIYA, delegate=AISHA, start=date(2026, 12, 1), until=date(2026, 12, 10)
)


def exact(message: str) -> str:
    """A `match=` pattern for exactly `message`."""
    return f"^{re.escape(message)}$"


def in_signoff(requester: Person = LUCAS) -> RequestState:
    """A request in round 1 of sign-off."""
    return Flow.start(requester=requester).to_signoff().state


def approve(
    actor: Person,
    state: RequestState,
    team: str = "qa",
    *,
    on: date = ON,
    delegations: Sequence[DelegationLike] = (),
    for_: Person | None = None,
) -> ActingAs:
    """Authorize `actor` approving for `team`."""
    return authorize(
        actor,
        Action.APPROVE,
        state,
        RULES,
        on,
        delegations=delegations,
        team=team,
        on_behalf_of=for_,
    )


class TestApprovers:
    def test_roster_member_acts_as_themselves(self) -> None:
        """A QA member approves for QA in their own name."""
        acting = approve(PRIYA, in_signoff())
        assert acting == ActingAs(actor=PRIYA, action=Action.APPROVE, team="qa", member="U0QA00001")

    def test_outsider_is_told_which_roster_they_are_missing_from(self) -> None:
        """The refusal names the team and the request."""
        with pytest.raises(
            NotEntitled, match=exact("You are not on the QA approver roster for MODREQ-12")
        ):
            approve(OUTSIDER, in_signoff())

    def test_member_of_another_team_cannot_approve_for_this_one(self) -> None:
        """Grace (BPO) has no say for QA."""
        with pytest.raises(NotEntitled, match="not on the QA approver roster"):
            approve(GRACE, in_signoff())

    @pytest.mark.parametrize(
        ("action", "verb"),
        [
            (Action.APPROVE, "approve it"),
            (Action.REJECT, "reject it"),
            (Action.REQUEST_CHANGES, "request changes to it"),
        ],
    )
    def test_requester_never_decides(self, action: Action, verb: str) -> None:
        """Whatever the button, the requester is told why they cannot use it."""
        with pytest.raises(NotEntitled, match=exact(f"You filed MODREQ-12, so you cannot {verb}")):
            authorize(PRIYA, action, in_signoff(PRIYA), RULES, ON, team="qa")

    def test_requester_cannot_stand_in(self) -> None:
        """Lucas as Priya's delegate is still the requester."""
        lucas_for_priya = AISHA_FOR_PRIYA.model_copy(update={"delegate": LUCAS})
        with pytest.raises(NotEntitled, match="You filed"):
            approve(LUCAS, in_signoff(), delegations=(lucas_for_priya,))

    def test_nobody_decides_in_the_requesters_name(self) -> None:
        """Priya filed the request; her delegate cannot approve it for her."""
        with pytest.raises(NotEntitled, match="Priya Raman filed MODREQ-12, so nobody"):
            approve(AISHA, in_signoff(PRIYA), delegations=(AISHA_FOR_PRIYA,), for_=PRIYA)

    def test_an_away_requester_gives_their_delegate_nothing(self) -> None:
        """Aisha stands in for Priya only, and Priya filed it: no QA vote, and told why."""
        reason = "Priya Raman filed MODREQ-12, so nobody can approve it in their name"
        with pytest.raises(NotEntitled, match=exact(reason)):
            approve(AISHA, in_signoff(PRIYA), delegations=(AISHA_FOR_PRIYA,))

    def test_requester_is_left_out_of_the_roster(self) -> None:
        """The roster quorums count is the team's without the requester."""
        assert eligible_roster(RULES, "qa", PRIYA) == ["U0QA00002"]
        assert eligible_roster(RULES, "bpo", Person(email="SOFIA@example.com")) == [
            "U0BP00001",
            "U0BP00002",
        ]


class TestDelegates:
    @pytest.mark.parametrize("on", [date(2026, 12, 1), date(2026, 12, 6), date(2026, 12, 10)])
    def test_inside_the_dates_inclusive(self, on: date) -> None:
        """From start to until, both included, Aisha acts for Priya."""
        acting = approve(AISHA, in_signoff(), on=on, delegations=(AISHA_FOR_PRIYA,))
        assert (acting.member, acting.on_behalf_of) == ("U0QA00001", PRIYA)

    @pytest.mark.parametrize(
        ("on", "today"), [(date(2026, 11, 30), "2026-11-30"), (date(2026, 12, 11), "2026-12-11")]
    )
    def test_outside_the_dates(self, on: date, today: str) -> None:
        """The day before or after, the refusal gives the dates and today."""
        expected = (
            f"^Your delegation for Priya Raman covers 2026-12-01 to 2026-12-10; today is {today}$"
        )
        with pytest.raises(NotEntitled, match=expected):
            approve(AISHA, in_signoff(), on=on, delegations=(AISHA_FOR_PRIYA,))

    def test_config_out_of_office_entries_are_accepted(self) -> None:
        """`out_of_office` records from config work as delegations as they are."""
        record = OutOfOffice(
            approver="U0QA00001", delegate="U0GV00001", start=date(2026, 12, 1), until=ON
        )
        acting = approve(AISHA, in_signoff(), delegations=(record,))
        assert acting.on_behalf_of == Person(slack_id="U0QA00001")

    def test_delegate_for_another_team_has_no_say_here(self) -> None:
        """Standing in for Priya (QA) gives nothing in BPO."""
        with pytest.raises(NotEntitled, match="BPO Ops approver roster"):
            approve(AISHA, in_signoff(), "bpo", delegations=(AISHA_FOR_PRIYA,))

    def test_member_already_decided_refuses_the_delegate(self) -> None:
        """Priya approved before leaving: Aisha has nothing left to cast."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        with pytest.raises(NotEntitled, match="Priya Raman's approval for QA on MODREQ-12"):
            approve(AISHA, flow.state, delegations=(AISHA_FOR_PRIYA,))

    def test_delegate_clicks_once_without_naming_anyone(self) -> None:
        """Standing in for two members, a plain second click is a double click."""
        for_tomas = AISHA_FOR_PRIYA.model_copy(update={"approver": TOMAS})
        flow = Flow.start().to_signoff()
        flow.delegations += [AISHA_FOR_PRIYA, for_tomas]
        flow.decide(AISHA, "qa", at=datetime(2026, 12, 5, 2, tzinfo=UTC))
        with pytest.raises(NotEntitled, match="already recorded"):
            approve(AISHA, flow.state, delegations=(AISHA_FOR_PRIYA, for_tomas))
        acting = approve(AISHA, flow.state, delegations=(AISHA_FOR_PRIYA, for_tomas), for_=TOMAS)
        assert acting.member == "U0QA00002"

    def test_naming_someone_you_do_not_stand_in_for(self) -> None:
        """Tomas cannot approve for Priya without her delegation."""
        with pytest.raises(NotEntitled, match="You are not Priya Raman's delegate for QA"):
            approve(TOMAS, in_signoff(), for_=PRIYA)

    def test_naming_someone_off_the_roster(self) -> None:
        """A delegation for someone not in the team counts for nothing in it."""
        with pytest.raises(NotEntitled, match="Grace Okafor is not on the QA approver roster"):
            approve(AISHA, in_signoff(), for_=GRACE)

    def test_naming_yourself_is_acting_as_yourself(self) -> None:
        """`on_behalf_of` oneself is no delegation."""
        acting = approve(TOMAS, in_signoff(), for_=TOMAS)
        assert (acting.member, acting.on_behalf_of) == ("U0QA00002", None)

    def test_local_date_uses_the_team_calendar(self) -> None:
        """Delegation dates are read in the team's time zone, not UTC."""
        assert local_date(RULES, "qa", datetime(2026, 12, 10, 16, 30, tzinfo=UTC)) == date(
            2026, 12, 11
        )
        assert local_date(RULES, "unknown", datetime(2026, 12, 10, 16, 30, tzinfo=UTC)) == date(
            2026, 12, 10
        )

    def test_as_delegations_converts_config_records(self) -> None:
        """Config records and ledger delegations become one kind of value."""
        record = OutOfOffice(approver="priya@example.com", delegate="U0GV00001", start=ON, until=ON)
        (converted, kept) = as_delegations([record, AISHA_FOR_PRIYA])
        assert converted.approver == Person(email="priya@example.com")
        assert kept is AISHA_FOR_PRIYA


class TestStageAndTeam:
    def test_decisions_need_signoff(self) -> None:
        """In expert review there is nothing to approve yet."""
        state = Flow.start().state
        with pytest.raises(InvalidTransition, match="in expert review, so it cannot be approved"):
            approve(PRIYA, state)

    def test_team_must_be_pending(self) -> None:
        """Product signed off: Hannah's second thoughts come too late for this round."""
        flow = Flow.start().to_signoff()
        flow.decide(HANNAH, "product")
        with pytest.raises(NotEntitled, match="Product has already signed off MODREQ-12"):
            authorize(HANNAH, Action.REJECT, flow.state, RULES, ON, team="product")

    def test_already_recorded(self) -> None:
        """A member's second decision in a round is refused, naming the first."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo")
        with pytest.raises(
            NotEntitled, match=r"^Your approval for BPO Ops on MODREQ-12 is already"
        ):
            authorize(GRACE, Action.REJECT, flow.state, RULES, ON, team="bpo")

    def test_a_new_round_clears_the_slate(self) -> None:
        """After changes were requested, round 2 takes Grace's decision again."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo")
        flow.decide(MARCO, "bpo", Verdict.REQUEST_CHANGES)
        flow.assess(ELENA)
        assert approve(GRACE, flow.state, "bpo").member == "U0BP00001"

    def test_decide_needs_a_team(self) -> None:
        """Deciding without a team is a programming error, not a refusal."""
        with pytest.raises(ValueError, match="needs the team"):
            authorize(PRIYA, Action.APPROVE, in_signoff(), RULES, ON)


class TestExperts:
    def test_expert_claims(self) -> None:
        """An expert-team member may claim."""
        acting = authorize(DANIEL, Action.CLAIM, Flow.start().state, RULES, ON)
        assert (acting.team, acting.member) == ("experts", "U0EX00002")

    def test_delegate_of_an_expert(self) -> None:
        """Within the dates, an expert's delegate may claim and assess."""
        away = Delegation(approver=ELENA, delegate=AISHA, start=ON, until=ON)
        acting = authorize(AISHA, Action.ASSESS, Flow.start().state, RULES, ON, delegations=[away])
        assert acting.on_behalf_of == ELENA
        with pytest.raises(NotEntitled, match="Your delegation for Elena Petrova"):
            authorize(
                AISHA,
                Action.CLAIM,
                Flow.start().state,
                RULES,
                date(2026, 12, 6),
                delegations=[away],
            )

    def test_delegate_of_the_assignee_may_submit(self) -> None:
        """Elena claimed and is away: her delegate submits for her."""
        away = Delegation(approver=ELENA, delegate=AISHA, start=ON, until=ON)
        flow = Flow.start()
        flow.claim(ELENA)
        acting = authorize(AISHA, Action.ASSESS, flow.state, RULES, ON, delegations=[away])
        assert acting.on_behalf_of == ELENA

    def test_signoff_members_may_ask_during_signoff(self) -> None:
        """A BPO member asks the requester while BPO is deciding."""
        acting = authorize(MARCO, Action.ASK, in_signoff(), RULES, ON)
        assert acting.team == "bpo"

    def test_signoff_members_may_not_ask_in_expert_review(self) -> None:
        """Before sign-off, questions come from the experts."""
        with pytest.raises(NotEntitled, match="Listing Experts roster"):
            authorize(MARCO, Action.ASK, Flow.start().state, RULES, ON)

    def test_ask_refusal_during_signoff(self) -> None:
        """An outsider is told both rosters they are missing from."""
        with pytest.raises(NotEntitled, match="neither on the Listing Experts roster nor"):
            authorize(OUTSIDER, Action.ASK, in_signoff(), RULES, ON)


class TestCancel:
    def test_requester_cancels_as_themselves(self) -> None:
        """The requester withdraws without being on any roster."""
        acting = authorize(LUCAS, Action.CANCEL, Flow.start().state, RULES, ON)
        assert acting.team is None

    def test_lead_of_a_signoff_team(self) -> None:
        """A sign-off team's lead may call the request off."""
        assert authorize(PRIYA, Action.CANCEL, in_signoff(), RULES, ON).team == "qa"
