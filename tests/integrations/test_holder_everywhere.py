"""Who holds a request is one answer (`RequestState.waiting_on`), whatever surface shows it.

The root card, the advance run's holder tag, `/govflow status` and the intake card each name
the holder (the PM board's column reads `waiting_on` too, tested with the board). A route
whose SOP owner is not its expert team is where hand-written answers used to part ways: the
root card said the experts held the SOP update.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.lifecycle import RequestState
from domain.rules import Route, Rules, SignOff, Team
from domain.stages import Stage, Turn
from govflow.advance import holder_of
from govflow.effects import EffectContext
from govflow.intake import request_card
from integrations.db.models import RequestRow
from integrations.slack.request_status import status_text
from integrations.slack.root_card import request_card_from_state
from tests.domain.test_lifecycle import ELENA, GRACE, HANNAH, MARCO, PRIYA, QUORUMS, TOMAS, Flow
from tests.domain.test_lifecycle import make_rules as lifecycle_rules

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OWNER = Team(
    name="SOP Governance",
    slack_channel="C0GV00001",
    roster=["U0GV00001"],
    leads=[],
    calendar="kuala_lumpur",
)


def make_rules() -> Rules:
    """The lifecycle tests' world plus an SOP governance team that owns the SOPs."""
    rules = lifecycle_rules()
    return rules.model_copy(update={"teams": {**rules.teams, "governance": OWNER}})


def owned_route() -> Route:
    """Experts assess, three teams sign off, governance publishes."""
    return Route(
        name="listing",
        expert_team="experts",
        signoff=[SignOff(team=t, quorum=QUORUMS[t]) for t in ("qa", "bpo", "product")],
        sla_policy="standard",
        sop_owner_team="governance",
    )


def row_of(state: RequestState) -> RequestRow:
    """The ledger row as routing leaves it."""
    return RequestRow(
        id=1,
        jira_key=state.key,
        summary="Tighten the replica-goods rule",
        stage=state.stage.value,
        expert_team=state.expert_team,
        assignee=state.assignee.slack_id if state.assignee else None,
        priority="P2",
        state=state.model_dump(mode="json"),
        updated_at=NOW,
    )


def surfaces(state: RequestState, rules: Rules) -> dict[str, str]:
    """What each surface says holds the request."""
    card = request_card_from_state(
        state,
        rules,
        summary="s",
        jira_url="https://jira.example.com/browse/X-1",
        requester_label="L",
        clocks=[],
    )
    return {
        "root card": card.held_by,
        "advance tag": holder_of(state, rules),
        "/govflow status": status_text(state, rules),
        "intake card": request_card(
            row_of(state), rules, EffectContext(rules, "https://jira.example.com"), "L", state=state
        ).held_by,
    }


def in_sop_update() -> Flow:
    """A request of the owned route that every team approved."""
    flow = Flow.start(route=owned_route(), rules=make_rules()).to_signoff()
    flow.approve_all()
    assert flow.state.stage is Stage.SOP_UPDATE
    return flow


class TestSopOwnerDiffersFromExperts:
    def test_domain_names_the_owner(self) -> None:
        """In SOP update it is the owner team's turn, not the experts'."""
        flow = in_sop_update()
        waiting = flow.state.waiting_on(flow.rules)
        assert waiting.turn is Turn.SOP_OWNER
        assert waiting.teams == ("governance",)
        assert waiting.names == ("SOP Governance",)

    def test_every_surface_names_the_owner(self) -> None:
        """Root card, run tag, status: the SOP owner, and no surface the experts."""
        flow = in_sop_update()
        shown = surfaces(flow.state, flow.rules)
        assert shown["advance tag"] == "governance"
        for surface, text in shown.items():
            if surface != "advance tag":
                assert "SOP Governance" in text, surface
            assert "Listing Experts" not in text and "experts" not in text, surface


class TestSignoffHolders:
    def test_only_teams_still_deciding_hold_it(self) -> None:
        """A team that reached quorum no longer holds the request, on any surface."""
        flow = Flow.start(route=owned_route(), rules=make_rules()).to_signoff()
        flow.decide(HANNAH, "product")
        flow.decide(PRIYA, "qa")
        waiting = flow.state.waiting_on(flow.rules)
        assert waiting.teams == ("qa", "bpo")
        shown = surfaces(flow.state, flow.rules)
        assert shown["advance tag"] == "qa,bpo"
        for surface, text in shown.items():
            if surface != "advance tag":
                assert "QA" in text and "BPO Ops" in text, surface

    def test_progress_per_team(self) -> None:
        """Each sign-off team's approvals so far against the number it needs."""
        flow = Flow.start(route=owned_route(), rules=make_rules()).to_signoff()
        flow.decide(PRIYA, "qa")
        flow.decide(GRACE, "bpo")
        flow.decide(MARCO, "bpo")
        progress = {
            p.team: (p.name, p.approvals, p.required, p.done)
            for p in flow.state.waiting_on(flow.rules).signoff
        }
        assert progress == {
            "qa": ("QA", 1, 2, False),
            "bpo": ("BPO Ops", 2, 2, True),
            "product": ("Product", 0, 1, False),
        }
        flow.decide(TOMAS, "qa")
        assert flow.state.waiting_on(flow.rules).teams == ("product",)


def test_expert_review_is_the_assignee_or_the_team() -> None:
    """Unclaimed: the expert team; claimed: the assignee, by name."""
    flow = Flow.start(route=owned_route(), rules=make_rules())
    shown = surfaces(flow.state, flow.rules)
    assert shown["advance tag"] == "experts"
    assert all("Listing Experts" in t for s, t in shown.items() if s != "advance tag")
    flow.claim(ELENA)
    assert flow.state.waiting_on(flow.rules).person == ELENA
    shown = surfaces(flow.state, flow.rules)
    assert shown["advance tag"] == "experts"
    assert all(
        "Elena Petrova" in t or "<@U0EX00001>" in t for s, t in shown.items() if s != "advance tag"
    )
