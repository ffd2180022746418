"""Quorum and team state: worked examples per quorum kind, and properties of the count."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.people import Person
from domain.rules import Quorum, QuorumKind
from domain.signoff import (
    Decision,
    TeamState,
    Verdict,
    decision_for,
    progress_text,
    required_approvals,
    tally,
    team_state,
)

ROSTER = ("U0BP00001", "U0BP00002", "sofia@example.com")
GRACE = Person(slack_id="U0BP00001", name="Grace")
MARCO = Person(slack_id="U0BP00002", name="Marco")
SOFIA = Person(slack_id="U0BP00003", email="Sofia@example.com", name="Sofia")
AISHA = Person(slack_id="U0GV00001", name="Aisha")  # not on the roster
T0 = datetime(2026, 12, 1, 2, tzinfo=UTC)
ANY = Quorum(kind=QuorumKind.ANY)
ALL = Quorum(kind=QuorumKind.ALL)
TWO = Quorum(kind=QuorumKind.N_OF, n=2)
_SEQUENCE = itertools.count(1)


def click(
    who: Person,
    verdict: Verdict = Verdict.APPROVE,
    *,
    team: str = "bpo",
    for_: Person | None = None,
    reason: str = "",
) -> Decision:
    """A decision in round 1; reasons are filled in where the verdict needs one."""
    n = next(_SEQUENCE)
    return Decision(
        round=1,
        team=team,
        approver=who,
        on_behalf_of=for_,
        verdict=verdict,
        reason=reason or ("" if verdict is Verdict.APPROVE else "because"),
        at=T0 + timedelta(minutes=n),
        event_id=f"ev-{n}",
    )


class TestRequiredApprovals:
    def test_per_kind(self) -> None:
        """any needs one, all the whole roster, n_of n."""
        assert required_approvals(ANY, ROSTER) == 1
        assert required_approvals(ALL, ROSTER) == 3
        assert required_approvals(TWO, ROSTER) == 2

    def test_never_zero(self) -> None:
        """An empty roster must not approve a change nobody looked at."""
        assert required_approvals(ALL, ()) == 1


class TestAny:
    def test_pending_without_decisions(self) -> None:
        """No decision, no sign-off."""
        assert team_state("bpo", ANY, ROSTER, []) is TeamState.PENDING

    def test_one_approval_signs_off(self) -> None:
        """Any one member's approval is enough."""
        assert team_state("bpo", ANY, ROSTER, [click(MARCO)]) is TeamState.APPROVED

    def test_email_entry_member_counts(self) -> None:
        """A member listed by email counts when the click carries that email."""
        assert team_state("bpo", ANY, ROSTER, [click(SOFIA)]) is TeamState.APPROVED


class TestAll:
    def test_every_member_must_approve(self) -> None:
        """Two of three is not all."""
        decisions = [click(GRACE), click(MARCO)]
        assert team_state("bpo", ALL, ROSTER, decisions) is TeamState.PENDING
        decisions.append(click(SOFIA))
        assert team_state("bpo", ALL, ROSTER, decisions) is TeamState.APPROVED

    def test_double_click_counts_once(self) -> None:
        """Grace clicking twice is one approval."""
        decisions = [click(GRACE), click(GRACE), click(MARCO)]
        counted = tally("bpo", ALL, ROSTER, decisions)
        assert (counted.state, counted.approvals) == (TeamState.PENDING, 2)

    def test_person_listed_twice_covers_both_entries(self) -> None:
        """A roster naming one human by id and by email is complete when they approve."""
        roster = ("U0BP00003", "sofia@example.com", "U0BP00001")
        decisions = [click(SOFIA), click(GRACE)]
        assert team_state("bpo", ALL, roster, decisions) is TeamState.APPROVED


class TestNOf:
    def test_n_distinct_members(self) -> None:
        """n_of 2 needs two different members."""
        assert team_state("bpo", TWO, ROSTER, [click(GRACE)]) is TeamState.PENDING
        assert team_state("bpo", TWO, ROSTER, [click(GRACE), click(SOFIA)]) is TeamState.APPROVED

    def test_same_member_twice_is_not_two(self) -> None:
        """Two clicks of one member do not make n_of 2."""
        assert team_state("bpo", TWO, ROSTER, [click(GRACE), click(GRACE)]) is TeamState.PENDING

    def test_delegate_counts_for_the_member_they_stand_in_for(self) -> None:
        """Aisha approving for Marco is Marco's approval."""
        decisions = [click(GRACE), click(AISHA, for_=MARCO)]
        assert team_state("bpo", TWO, ROSTER, decisions) is TeamState.APPROVED

    def test_member_and_their_delegate_count_once(self) -> None:
        """Marco and his delegate approving are one member's approval."""
        decisions = [click(AISHA, for_=MARCO), click(MARCO)]
        assert tally("bpo", TWO, ROSTER, decisions).approvals == 1


class TestDecisive:
    def test_any_reject_rejects(self) -> None:
        """One rejection rejects the team, whatever approvals came before."""
        decisions = [click(GRACE), click(MARCO, Verdict.REJECT)]
        assert team_state("bpo", ALL, ROSTER, decisions) is TeamState.REJECTED

    def test_request_changes(self) -> None:
        """A request for changes sends the team's answer back to the expert."""
        decisions = [click(MARCO, Verdict.REQUEST_CHANGES)]
        assert team_state("bpo", TWO, ROSTER, decisions) is TeamState.CHANGES_REQUESTED

    def test_first_decisive_wins(self) -> None:
        """A rejection after changes were requested does not flip the state, nor the reverse."""
        first_changes = [click(MARCO, Verdict.REQUEST_CHANGES), click(GRACE, Verdict.REJECT)]
        first_reject = [click(GRACE, Verdict.REJECT), click(MARCO, Verdict.REQUEST_CHANGES)]
        assert team_state("bpo", ANY, ROSTER, first_changes) is TeamState.CHANGES_REQUESTED
        assert team_state("bpo", ANY, ROSTER, first_reject) is TeamState.REJECTED

    def test_reaching_quorum_is_decisive(self) -> None:
        """A late rejection after quorum was reached does not undo the sign-off."""
        decisions = [click(GRACE), click(MARCO, Verdict.REJECT)]
        counted = tally("bpo", ANY, ROSTER, decisions)
        assert counted.state is TeamState.APPROVED
        assert counted.decisive == decisions[0]

    def test_outsiders_count_for_nothing(self) -> None:
        """A click by someone off the roster, standing in for nobody, is ignored."""
        decisions = [click(AISHA), click(AISHA, Verdict.REJECT)]
        assert team_state("bpo", ANY, ROSTER, decisions) is TeamState.PENDING

    def test_other_teams_decisions_are_ignored(self) -> None:
        """Grace's QA approval is not a BPO approval."""
        assert team_state("bpo", ANY, ROSTER, [click(GRACE, team="qa")]) is TeamState.PENDING


class TestProgressText:
    def test_counts(self) -> None:
        """The card line says how far the team is."""
        assert progress_text("bpo", TWO, ROSTER, [click(GRACE)]) == "1 of 2 approvals"
        assert progress_text("bpo", ANY, ROSTER, []) == "0 of 1 approval"

    def test_decisive_states_are_named(self) -> None:
        """A rejected team says so."""
        decisions = [click(GRACE), click(MARCO, Verdict.REJECT)]
        assert progress_text("bpo", ALL, ROSTER, decisions) == "1 of 3 approvals, rejected"


class TestDecisionFor:
    def test_finds_a_delegated_decision(self) -> None:
        """Marco's entry is taken once his delegate has decided for him."""
        delegated = click(AISHA, for_=MARCO)
        assert decision_for("U0BP00002", "bpo", ROSTER, [click(GRACE), delegated]) == delegated
        assert decision_for("sofia@example.com", "bpo", ROSTER, [delegated]) is None


class TestDecision:
    @pytest.mark.parametrize("verdict", [Verdict.REJECT, Verdict.REQUEST_CHANGES])
    def test_needs_a_reason_unless_approving(self, verdict: Verdict) -> None:
        """Rejections and change requests carry their reason."""
        with pytest.raises(ValidationError, match="needs a reason"):
            Decision(
                round=1,
                team="bpo",
                approver=GRACE,
                verdict=verdict,
                at=T0,
                event_id="e",
                reason=" ",
            )


MEMBERS = [GRACE, MARCO, SOFIA, AISHA]
approvals = st.lists(st.sampled_from(MEMBERS), max_size=8).map(lambda ws: [click(w) for w in ws])
quorums = st.sampled_from([ANY, ALL, TWO, Quorum(kind=QuorumKind.N_OF, n=3)])


class TestProperties:
    @given(approvals, quorums)
    def test_approvals_count_distinct_members(self, decisions: list[Decision], q: Quorum) -> None:
        """With approvals only, the team is approved exactly when enough members approved."""
        members = {d.approver.slack_id for d in decisions if d.approver != AISHA}
        expected = len(members) >= required_approvals(q, ROSTER)
        assert (team_state("bpo", q, ROSTER, decisions) is TeamState.APPROVED) == expected

    @given(approvals, quorums, st.randoms(use_true_random=False))
    def test_order_of_approvals_does_not_matter(
        self, decisions: list[Decision], q: Quorum, rnd: random.Random
    ) -> None:
        """Approvals commute: only who approved counts, not in which order."""
        shuffled = list(decisions)
        rnd.shuffle(shuffled)
        assert team_state("bpo", q, ROSTER, shuffled) == team_state("bpo", q, ROSTER, decisions)

    @given(approvals, quorums)
    def test_repeating_clicks_changes_nothing(self, decisions: list[Decision], q: Quorum) -> None:
        """Every click sent twice gives the same tally."""
        doubled = [d for d in decisions for _ in (0, 1)]
        assert (
            tally("bpo", q, ROSTER, doubled).approvals
            == tally("bpo", q, ROSTER, decisions).approvals
        )
