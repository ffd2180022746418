"""The lifecycle from expert review to SOP update, one rule at a time.

The module also holds the small world the other lifecycle tests share: rules with an expert
team and three sign-off teams (QA `all`, BPO `n_of 2`, Product `any`), their people, and
`Flow`, which applies events one after another the way the advance flow does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.assessment import Assessment, Recommendation, Risk
from domain.entitlement import Delegation, DelegationLike
from domain.errors import ConfigError, InvalidTransition, NotEntitled
from domain.lifecycle import (
    EVENTS,
    AskRequester,
    Cancel,
    Claim,
    Decide,
    EditDraft,
    Event,
    PublishSop,
    RequesterReplied,
    RequestState,
    SendBack,
    SubmitAssessment,
    apply,
    begin,
)
from domain.notices import (
    NOTICES,
    AssessmentRecorded,
    Cancelled,
    ChangesRequested,
    Claimed,
    DecisionRecorded,
    InfoReceived,
    InfoRequested,
    Notice,
    Rejected,
    SignoffComplete,
    SignoffOpened,
    StageChanged,
    TeamSignedOff,
)
from domain.people import Person
from domain.rules import (
    Calendar,
    JiraRules,
    OutOfOffice,
    Quorum,
    QuorumKind,
    RejectOutcome,
    Route,
    Rules,
    SignOff,
    Team,
)
from domain.signoff import TeamState, Verdict
from domain.sop import SopVersion
from domain.stages import Stage

KEY = "MODREQ-12"
# 10:00 in Kuala Lumpur, where every team of this world works.
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

ELENA = Person(slack_id="U0EX00001", email="elena@example.com", name="Elena Petrova")
DANIEL = Person(slack_id="U0EX00002", name="Daniel Kim")
PRIYA = Person(slack_id="U0QA00001", name="Priya Raman")
TOMAS = Person(slack_id="U0QA00002", name="Tomas Herrera")
GRACE = Person(slack_id="U0BP00001", name="Grace Okafor")
MARCO = Person(slack_id="U0BP00002", name="Marco Bianchi")
SOFIA = Person(slack_id="U0BP00003", email="sofia@example.com", name="Sofia Rossi")
HANNAH = Person(slack_id="U0PM00001", name="Hannah Schulz")
AISHA = Person(slack_id="U0GV00001", name="Aisha Rahman")
LUCAS = Person(
    slack_id="U0MS00001", email="lucas@example.com", jira_account_id="jira-lucas", name="Lucas"
)
OUTSIDER = Person(slack_id="U0ZZ00001", name="Zoe Outsider")

ROSTERS: dict[str, list[str]] = {
    "experts": ["U0EX00001", "U0EX00002"],
    "qa": ["U0QA00001", "U0QA00002"],
    "bpo": ["U0BP00001", "U0BP00002", "sofia@example.com"],
    "product": ["U0PM00001"],
}
NAMES = {"experts": "Listing Experts", "qa": "QA", "bpo": "BPO Ops", "product": "Product"}
CHANNELS = {"experts": "C0EX00001", "qa": "C0QA00001", "bpo": "C0BP00001", "product": "C0PM00001"}
LEADS = {"experts": ["U0EX00001"], "qa": ["U0QA00001"], "bpo": ["U0BP00001"], "product": []}
QUORUMS = {
    "qa": Quorum(kind=QuorumKind.ALL),
    "bpo": Quorum(kind=QuorumKind.N_OF, n=2),
    "product": Quorum(kind=QuorumKind.ANY),
}


def make_rules(*, qa_roster: Sequence[str] | None = None) -> Rules:
    """The rules of this test world; `qa_roster` replaces QA's roster."""
    rosters = dict(ROSTERS, qa=list(qa_roster)) if qa_roster is not None else ROSTERS
    teams = {
        key: Team(
            name=NAMES[key],
            slack_channel=CHANNELS[key],
            roster=rosters[key],
            leads=LEADS[key],
            calendar="kuala_lumpur",
        )
        for key in ROSTERS
    }
    return Rules(
        jira=JiraRules(projects=["MODREQ"]),
        fields={},
        request_types={},
        domains={},
        markets=["MY"],
        calendars={"kuala_lumpur": Calendar(timezone="Asia/Kuala_Lumpur")},
        teams=teams,
        sla_policies={},
        routing=[],
    )


def make_route(
    teams: Sequence[str] = ("qa", "bpo", "product"),
    on_reject: RejectOutcome = RejectOutcome.END,
) -> Route:
    """A route from the expert team to the given sign-off teams."""
    return Route(
        name="listing",
        expert_team="experts",
        signoff=[SignOff(team=t, quorum=QUORUMS[t]) for t in teams],
        sla_policy="standard",
        on_reject=on_reject,
    )


def make_assessment(
    author: Person,
    recommendation: Recommendation = Recommendation.PROCEED,
    *,
    rationale: str = "Sellers keep listing replicas under a vague category; tighten it.",
    at: datetime = T0,
    change: str = "Replica goods are prohibited in every category.",
    sops: Sequence[str] = ("SOP-LST-014",),
) -> Assessment:
    """A complete assessment by `author`."""
    proceed = recommendation is Recommendation.PROCEED
    return Assessment(
        recommendation=recommendation,
        risk=Risk.MEDIUM,
        proposed_change=change if proceed else "",
        affected_sops=list(sops) if proceed else [],
        rationale=rationale,
        author=author,
        submitted_at=at,
    )


_IDS = itertools.count(1)


@dataclass
class Flow:
    """Applies events in order to one request, as the advance flow would."""

    state: RequestState
    rules: Rules
    delegations: list[DelegationLike] = field(default_factory=list)
    now: datetime = T0
    # The registry's latest versions, as the advance step passes them; None: not consulted.
    sops: dict[str, SopVersion] | None = None

    @classmethod
    def start(
        cls,
        *,
        route: Route | None = None,
        rules: Rules | None = None,
        requester: Person = LUCAS,
    ) -> Flow:
        """A request just routed to expert review."""
        rules = rules or make_rules()
        state = begin(KEY, requester, route or make_route(), rules, T0)
        return cls(state=state, rules=rules)

    def send(self, event: Event) -> tuple[Notice, ...]:
        """Apply `event`, keep the new state, return the notices."""
        outcome = apply(self.state, event, self.rules, self.delegations, self.now, sops=self.sops)
        self.state = outcome.state
        return outcome.notices

    def meta(self, who: Person, at: datetime | None) -> dict[str, object]:
        """The fields every event carries."""
        return {"event_id": f"ev-{next(_IDS)}", "actor": who, "at": at or self.now}

    def claim(self, who: Person = ELENA, at: datetime | None = None) -> tuple[Notice, ...]:
        """`who` claims the request."""
        return self.send(Claim.model_validate(self.meta(who, at)))

    def assess(
        self,
        who: Person = ELENA,
        recommendation: Recommendation = Recommendation.PROCEED,
        *,
        rationale: str = "Sellers keep listing replicas under a vague category; tighten it.",
        at: datetime | None = None,
        change: str = "Replica goods are prohibited in every category.",
        sops: Sequence[str] = ("SOP-LST-014",),
    ) -> tuple[Notice, ...]:
        """`who` submits an assessment."""
        body = make_assessment(
            who, recommendation, rationale=rationale, at=at or self.now, change=change, sops=sops
        )
        return self.send(
            SubmitAssessment.model_validate({**self.meta(who, at), "assessment": body})
        )

    def decide(
        self,
        who: Person,
        team: str,
        verdict: Verdict = Verdict.APPROVE,
        reason: str = "",
        *,
        for_: Person | None = None,
        at: datetime | None = None,
    ) -> tuple[Notice, ...]:
        """`who` clicks a sign-off button for `team`."""
        reason = reason or ("" if verdict is Verdict.APPROVE else "Not what the SOP needs.")
        fields = {"team": team, "verdict": verdict, "reason": reason, "on_behalf_of": for_}
        return self.send(Decide.model_validate({**self.meta(who, at), **fields}))

    def ask(self, who: Person, question: str = "Which markets?") -> tuple[Notice, ...]:
        """`who` asks the requester a question."""
        return self.send(
            AskRequester.model_validate({**self.meta(who, None), "question": question})
        )

    def reply(self, who: Person = LUCAS, body: str = "Only MY.") -> tuple[Notice, ...]:
        """A Jira comment by `who` arrives."""
        fields = {"body": body, "comment_id": f"c-{next(_IDS)}"}
        return self.send(RequesterReplied.model_validate({**self.meta(who, None), **fields}))

    def cancel(self, who: Person = LUCAS, reason: str = "No longer needed") -> tuple[Notice, ...]:
        """`who` cancels the request."""
        return self.send(Cancel.model_validate({**self.meta(who, None), "reason": reason}))

    def publish(self, who: Person = ELENA, on: date | None = None) -> tuple[Notice, ...]:
        """`who` clicks Publish on the SOP update card."""
        fields = {"effective_date": on}
        return self.send(PublishSop.model_validate({**self.meta(who, None), **fields}))

    def edit(self, sop: str, change: str, who: Person = ELENA) -> tuple[Notice, ...]:
        """`who` saves an edit of the draft of `sop`."""
        fields = {"sop_id": sop, "change": change}
        return self.send(EditDraft.model_validate({**self.meta(who, None), **fields}))

    def send_back(self, reason: str, who: Person = ELENA) -> tuple[Notice, ...]:
        """`who` sends the SOP update back to expert review."""
        return self.send(SendBack.model_validate({**self.meta(who, None), "reason": reason}))

    def to_signoff(self) -> Flow:
        """Elena claims and recommends the change: round 1 of sign-off opens."""
        self.claim(ELENA)
        self.assess(ELENA)
        return self

    def approve_all(self) -> None:
        """Every team of the default route reaches its quorum."""
        for who, team in [(PRIYA, "qa"), (TOMAS, "qa"), (GRACE, "bpo"), (MARCO, "bpo")]:
            self.decide(who, team)
        self.decide(HANNAH, "product")


def kinds(notices: Sequence[Notice]) -> list[str]:
    """The kinds of `notices`, in order."""
    return [n.kind for n in notices]


def stage_change(notices: Sequence[Notice]) -> StageChanged:
    """The one StageChanged among `notices`."""
    (change,) = [n for n in notices if isinstance(n, StageChanged)]
    return change


class TestBegin:
    def test_starts_in_expert_review_with_signoff_snapshotted(self) -> None:
        """Routing opens expert review and copies the route's teams and quorums."""
        state = begin(
            KEY, LUCAS, make_route(on_reject=RejectOutcome.RETURN_TO_EXPERT), make_rules(), T0
        )
        assert state.stage is Stage.EXPERT_REVIEW
        assert [(s.team, s.quorum) for s in state.signoff] == list(QUORUMS.items())
        assert state.on_reject is RejectOutcome.RETURN_TO_EXPERT
        assert (state.round, state.assignee, state.stage_since) == (0, None, T0)

    def test_unknown_team_is_a_config_error(self) -> None:
        """A route naming a team the rules lack cannot start a request."""
        route = make_route().model_copy(update={"expert_team": "ghosts"})
        with pytest.raises(ConfigError, match="ghosts"):
            begin(KEY, LUCAS, route, make_rules(), T0)

    def test_state_round_trips_through_json(self) -> None:
        """The ledger stores the state as JSON and reads back an equal state."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        flow.ask(TOMAS)
        stored = flow.state.model_dump_json()
        assert RequestState.model_validate_json(stored) == flow.state

    def test_state_checks_its_own_consistency(self) -> None:
        """A NEEDS_INFO state without the stage to resume is refused on load."""
        data = Flow.start().state.model_dump() | {"stage": Stage.NEEDS_INFO}
        with pytest.raises(ValidationError, match="resume_stage"):
            RequestState.model_validate(data)


class TestEvents:
    def test_events_parse_by_kind(self) -> None:
        """Events stored as JSON come back as the right class."""
        event = Decide(
            event_id="e1", actor=PRIYA, at=T0, team="qa", verdict=Verdict.REJECT, reason="No."
        )
        assert EVENTS.validate_json(event.model_dump_json()) == event

    @pytest.mark.parametrize("verdict", [Verdict.REJECT, Verdict.REQUEST_CHANGES])
    def test_reject_and_changes_need_a_reason(self, verdict: Verdict) -> None:
        """A rejection or change request without a reason is not a valid click."""
        with pytest.raises(ValidationError, match="needs a reason"):
            Decide(event_id="e1", actor=PRIYA, at=T0, team="qa", verdict=verdict, reason="  ")

    def test_assessment_author_must_be_the_actor(self) -> None:
        """Nobody submits an assessment in someone else's name."""
        with pytest.raises(ValidationError, match="author"):
            SubmitAssessment(event_id="e1", actor=DANIEL, at=T0, assessment=make_assessment(ELENA))

    def test_times_must_be_aware(self) -> None:
        """A naive time is ambiguous across the teams' time zones."""
        with pytest.raises(ValidationError, match="timezone-aware"):
            Claim(event_id="e1", actor=ELENA, at=datetime(2026, 12, 1, 10))

    def test_notices_round_trip_for_the_outbox(self) -> None:
        """Notices survive a trip through JSON as the same values."""
        for notice in Flow.start().to_signoff().claim(DANIEL):
            assert NOTICES.validate_json(notice.model_dump_json()) == notice


class TestAssessmentModel:
    def test_proceed_needs_the_change_and_sops(self) -> None:
        """A PROCEED without the new wording or the SOPs it touches is incomplete."""
        with pytest.raises(ValidationError, match="proposed change"):
            Assessment(
                recommendation=Recommendation.PROCEED,
                risk=Risk.LOW,
                affected_sops=["SOP-LST-014"],
                rationale="Why",
                author=ELENA,
                submitted_at=T0,
            )
        with pytest.raises(ValidationError, match="affected SOP"):
            Assessment(
                recommendation=Recommendation.PROCEED,
                risk=Risk.LOW,
                proposed_change="New wording",
                rationale="Why",
                author=ELENA,
                submitted_at=T0,
            )

    def test_rationale_is_required(self) -> None:
        """Every assessment says why."""
        with pytest.raises(ValidationError, match="rationale"):
            make_assessment(ELENA, Recommendation.REJECT, rationale="   ")

    def test_length_is_limited(self) -> None:
        """Texts longer than the Slack modal allows are refused."""
        with pytest.raises(ValidationError, match="at most 3000"):
            make_assessment(ELENA, rationale="x" * 3001)

    def test_sop_ids_are_normalised_and_checked(self) -> None:
        """SOP ids are upper-cased, deduplicated, and must look like SOP ids."""
        base = make_assessment(ELENA).model_dump()
        sops = Assessment.model_validate(base | {"affected_sops": [" sop-lst-014", "SOP-LST-014"]})
        assert sops.affected_sops == ("SOP-LST-014",)
        with pytest.raises(ValidationError, match="SOP ids look like"):
            Assessment.model_validate(base | {"affected_sops": ["prohibited items"]})


class TestClaim:
    def test_claim_sets_the_assignee(self) -> None:
        """An expert's claim makes them the assignee."""
        flow = Flow.start()
        notices = flow.claim(ELENA)
        assert flow.state.assignee == ELENA
        assert notices == (Claimed(by=ELENA, previous=None),)

    def test_another_expert_may_take_over(self) -> None:
        """A re-claim by a colleague moves the request to them, and says from whom."""
        flow = Flow.start()
        flow.claim(ELENA)
        assert flow.claim(DANIEL) == (Claimed(by=DANIEL, previous=ELENA),)
        assert flow.state.assignee == DANIEL

    def test_claiming_again_changes_nothing(self) -> None:
        """The assignee clicking Claim again is recorded but notices nothing."""
        flow = Flow.start()
        flow.claim(ELENA)
        assert flow.claim(ELENA) == ()

    def test_outsider_cannot_claim(self) -> None:
        """Only the expert team (or a delegate) claims."""
        with pytest.raises(NotEntitled, match="not on the Listing Experts roster"):
            Flow.start().claim(OUTSIDER)


class TestSubmitAssessment:
    def test_proceed_opens_signoff_round_one(self) -> None:
        """PROCEED moves to SIGN_OFF, opens round 1 and says which teams must sign off."""
        flow = Flow.start()
        flow.claim(ELENA)
        notices = flow.assess(ELENA)
        assert kinds(notices) == ["assessment_recorded", "stage_changed", "signoff_opened"]
        assert flow.state.stage is Stage.SIGN_OFF and flow.state.round == 1
        assert flow.state.assessment is not None
        assert notices[0] == AssessmentRecorded(assessment=flow.state.assessment, round=1)
        opened = notices[-1]
        assert isinstance(opened, SignoffOpened)
        assert (opened.round, opened.teams) == (1, flow.state.signoff)

    def test_reject_ends_the_request(self) -> None:
        """The expert's REJECT rejects the request with its rationale as the reason."""
        flow = Flow.start()
        notices = flow.assess(ELENA, Recommendation.REJECT, rationale="Duplicates SOP-LST-002.")
        assert flow.state.stage is Stage.REJECTED
        assert (
            Rejected(by=ELENA, reason="Duplicates SOP-LST-002.", team="experts", ends_request=True)
            in notices
        )

    def test_needs_info_asks_the_rationale(self) -> None:
        """NEEDS_INFO pauses on the rationale as the question, to resume expert review."""
        flow = Flow.start()
        notices = flow.assess(ELENA, Recommendation.NEEDS_INFO, rationale="Which categories?")
        assert flow.state.stage is Stage.NEEDS_INFO
        assert flow.state.resume_stage is Stage.EXPERT_REVIEW
        assert flow.state.question is not None and flow.state.question.text == "Which categories?"
        assert (
            InfoRequested(by=ELENA, question="Which categories?", resume_stage=Stage.EXPERT_REVIEW)
            in notices
        )

    def test_unclaimed_request_is_claimed_by_its_assessor(self) -> None:
        """Submitting without claiming first claims it."""
        flow = Flow.start()
        notices = flow.assess(DANIEL)
        assert flow.state.assignee == DANIEL
        assert isinstance(notices[0], Claimed)

    def test_only_the_assignee_submits(self) -> None:
        """A colleague must claim before submitting over the assignee."""
        flow = Flow.start()
        flow.claim(ELENA)
        with pytest.raises(NotEntitled, match="Elena Petrova has claimed MODREQ-12"):
            flow.assess(DANIEL)

    def test_no_assessment_during_signoff(self) -> None:
        """An assessment cannot be swapped under the approvers' feet."""
        flow = Flow.start().to_signoff()
        with pytest.raises(InvalidTransition, match="takes no assessment"):
            flow.assess(ELENA)


class TestQuorum:
    def test_all_teams_at_quorum_reach_sop_update(self) -> None:
        """When the last team reaches quorum the request goes to SOP_UPDATE."""
        flow = Flow.start().to_signoff()
        for who, team in [(PRIYA, "qa"), (TOMAS, "qa"), (GRACE, "bpo"), (MARCO, "bpo")]:
            flow.decide(who, team)
        assert flow.state.stage is Stage.SIGN_OFF
        notices = flow.decide(HANNAH, "product")
        assert kinds(notices) == [
            "decision_recorded",
            "team_signed_off",
            "signoff_complete",
            "stage_changed",
        ]
        assert stage_change(notices).to_stage is Stage.SOP_UPDATE
        assert SignoffComplete(round=1) in notices

    def test_all_waits_for_every_member(self) -> None:
        """QA (all) is pending after Priya, with its progress on the notice."""
        flow = Flow.start().to_signoff()
        (recorded,) = flow.decide(PRIYA, "qa")
        assert isinstance(recorded, DecisionRecorded)
        assert recorded.team_state_after is TeamState.PENDING
        assert recorded.progress == "1 of 2 approvals"
        assert TeamSignedOff(team="qa", round=1) in flow.decide(TOMAS, "qa")

    def test_n_of_counts_distinct_members(self) -> None:
        """BPO (n_of 2) signs off on the second member, an email-listed one."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo")
        notices = flow.decide(SOFIA, "bpo")
        assert TeamSignedOff(team="bpo", round=1) in notices

    def test_any_signs_off_on_one(self) -> None:
        """Product (any) signs off on Hannah's approval."""
        flow = Flow.start(route=make_route(["product"])).to_signoff()
        flow.decide(HANNAH, "product")
        assert flow.state.stage is Stage.SOP_UPDATE

    def test_double_click_is_refused_and_counted_once(self) -> None:
        """A second click by the same member is refused; the team stays pending."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo")
        with pytest.raises(NotEntitled, match="already recorded"):
            flow.decide(GRACE, "bpo")
        assert len(flow.state.decisions) == 1

    def test_team_outside_the_route_is_refused(self) -> None:
        """A team not routed for sign-off has no say."""
        flow = Flow.start(route=make_route(["product"])).to_signoff()
        with pytest.raises(NotEntitled, match="does not need sign-off from QA"):
            flow.decide(PRIYA, "qa")

    def test_signed_off_team_takes_no_more_decisions(self) -> None:
        """Once BPO signed off, Sofia's late rejection is refused."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo")
        flow.decide(MARCO, "bpo")
        with pytest.raises(NotEntitled, match="BPO Ops has already signed off"):
            flow.decide(SOFIA, "bpo", Verdict.REJECT)


class TestReject:
    def test_reject_ends_the_request_by_default(self) -> None:
        """With on_reject end, one team's rejection rejects the request."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        notices = flow.decide(MARCO, "bpo", Verdict.REJECT, "Vendors cannot staff this.")
        assert flow.state.stage is Stage.REJECTED
        assert (
            Rejected(by=MARCO, reason="Vendors cannot staff this.", team="bpo", ends_request=True)
            in notices
        )

    def test_reject_may_return_to_the_expert(self) -> None:
        """With on_reject return_to_expert, the request goes back with its assessment."""
        flow = Flow.start(route=make_route(on_reject=RejectOutcome.RETURN_TO_EXPERT)).to_signoff()
        assessment = flow.state.assessment
        notices = flow.decide(MARCO, "bpo", Verdict.REJECT, "Vendors cannot staff this.")
        assert flow.state.stage is Stage.EXPERT_REVIEW
        assert flow.state.assessment == assessment
        assert (
            Rejected(by=MARCO, reason="Vendors cannot staff this.", team="bpo", ends_request=False)
            in notices
        )
        with pytest.raises(InvalidTransition):
            flow.decide(PRIYA, "qa")

    def test_rejection_needs_no_quorum(self) -> None:
        """One member's rejection rejects a team whose quorum is all."""
        flow = Flow.start().to_signoff()
        flow.decide(TOMAS, "qa", Verdict.REJECT)
        assert flow.state.stage is Stage.REJECTED


class TestChangesRequested:
    def test_changes_return_to_the_expert_with_feedback(self) -> None:
        """REQUEST_CHANGES sends the request back to EXPERT_REVIEW with the feedback."""
        flow = Flow.start().to_signoff()
        notices = flow.decide(HANNAH, "product", Verdict.REQUEST_CHANGES, "Name the categories.")
        assert flow.state.stage is Stage.EXPERT_REVIEW
        assert ChangesRequested(by=HANNAH, team="product", feedback="Name the categories.") in (
            notices
        )

    def test_resubmission_opens_a_fresh_round(self) -> None:
        """Approvals of round 1 do not count in round 2: everyone approves again."""
        flow = Flow.start().to_signoff()
        for who, team in [(PRIYA, "qa"), (TOMAS, "qa"), (GRACE, "bpo"), (MARCO, "bpo")]:
            flow.decide(who, team)
        flow.decide(HANNAH, "product", Verdict.REQUEST_CHANGES, "Name the categories.")
        flow.assess(ELENA)
        assert (flow.state.stage, flow.state.round) == (Stage.SIGN_OFF, 2)
        notices = flow.decide(HANNAH, "product")
        assert not any(isinstance(n, StageChanged) for n in notices)
        assert TeamSignedOff(team="product", round=2) in notices
        (recorded,) = flow.decide(PRIYA, "qa")
        assert isinstance(recorded, DecisionRecorded) and recorded.progress == "1 of 2 approvals"
        for who, team in [(TOMAS, "qa"), (GRACE, "bpo"), (MARCO, "bpo")]:
            flow.decide(who, team)
        assert flow.state.stage is Stage.SOP_UPDATE
        assert len(flow.state.decisions) == 10


class TestNeedsInfo:
    def test_pause_in_signoff_keeps_the_round(self) -> None:
        """A question during sign-off pauses it; the answer resumes it with its decisions."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        flow.decide(GRACE, "bpo")
        notices = flow.ask(TOMAS, "Does this cover bundles?")
        assert (
            InfoRequested(
                by=TOMAS, question="Does this cover bundles?", resume_stage=Stage.SIGN_OFF
            )
            in notices
        )
        with pytest.raises(InvalidTransition, match="waiting for the requester"):
            flow.decide(MARCO, "bpo")
        notices = flow.reply(LUCAS, "Yes, bundles too.")
        assert stage_change(notices).to_stage is Stage.SIGN_OFF
        assert (flow.state.resume_stage, flow.state.question) == (None, None)
        assert len(flow.state.round_decisions()) == 2
        for who, team in [(TOMAS, "qa"), (MARCO, "bpo"), (HANNAH, "product")]:
            flow.decide(who, team)
        assert flow.state.stage is Stage.SOP_UPDATE

    def test_others_comments_are_noticed_but_do_not_resume(self) -> None:
        """A colleague commenting on the ticket is not the requester's answer."""
        flow = Flow.start()
        flow.ask(ELENA)
        notices = flow.reply(OUTSIDER, "I think Lucas meant MY.")
        assert flow.state.stage is Stage.NEEDS_INFO
        (received,) = notices
        assert isinstance(received, InfoReceived) and not received.resumed

    def test_requester_recognised_by_jira_account(self) -> None:
        """The Jira comment author carries only an account id; that is enough."""
        flow = Flow.start()
        flow.ask(ELENA)
        flow.reply(Person(jira_account_id="jira-lucas", name="Lucas M."))
        assert flow.state.stage is Stage.EXPERT_REVIEW

    def test_reply_when_nothing_waits_is_refused(self) -> None:
        """A comment outside NEEDS_INFO resumes nothing."""
        with pytest.raises(InvalidTransition, match="not waiting"):
            Flow.start().reply()

    def test_cannot_ask_twice(self) -> None:
        """A second question while waiting is not a transition the table has."""
        flow = Flow.start()
        flow.ask(ELENA)
        with pytest.raises(InvalidTransition):
            flow.ask(DANIEL)

    def test_outsider_cannot_ask(self) -> None:
        """Only people working on the request ask its requester."""
        with pytest.raises(NotEntitled):
            Flow.start().to_signoff().ask(OUTSIDER)

    def test_ask_during_sop_update(self) -> None:
        """The expert may still ask while the SOP is being updated."""
        flow = Flow.start().to_signoff()
        flow.approve_all()
        flow.ask(ELENA)
        assert flow.state.resume_stage is Stage.SOP_UPDATE
        flow.reply()
        assert flow.state.stage is Stage.SOP_UPDATE


class TestSelfApproval:
    def test_requester_cannot_approve(self) -> None:
        """A QA member who filed the request cannot approve it for QA."""
        flow = Flow.start(requester=PRIYA).to_signoff()
        with pytest.raises(NotEntitled, match="You filed MODREQ-12, so you cannot approve it"):
            flow.decide(PRIYA, "qa")

    def test_requester_is_not_waited_for(self) -> None:
        """QA's `all` counts the members who may decide: Tomas alone signs off."""
        flow = Flow.start(requester=PRIYA).to_signoff()
        assert TeamSignedOff(team="qa", round=1) in flow.decide(TOMAS, "qa")

    def test_requester_cannot_approve_as_a_delegate(self) -> None:
        """Lucas standing in for Priya still cannot approve his own request."""
        flow = Flow.start().to_signoff()
        flow.delegations.append(
            Delegation(
                approver=PRIYA, delegate=LUCAS, start=date(2026, 12, 1), until=date(2026, 12, 9)
            )
        )
        with pytest.raises(NotEntitled, match="You filed"):
            flow.decide(LUCAS, "qa")

    def test_requester_identified_by_email_only(self) -> None:
        """A click carrying only the requester's email is the requester."""
        flow = Flow.start(requester=Person(email="sofia@example.com")).to_signoff()
        with pytest.raises(NotEntitled, match="You filed"):
            flow.decide(SOFIA, "bpo")


class TestDelegation:
    def setup_flow(self) -> Flow:
        """Priya is away 2026-12-01 to 2026-12-10; Aisha (not in QA) stands in."""
        flow = Flow.start().to_signoff()
        flow.delegations.append(
            OutOfOffice(
                approver="U0QA00001",
                delegate="U0GV00001",
                start=date(2026, 12, 1),
                until=date(2026, 12, 10),
            )
        )
        return flow

    @pytest.mark.parametrize("day", [1, 5, 10])
    def test_delegate_counts_for_the_member_inside_the_dates(self, day: int) -> None:
        """Aisha's approval on any day from start to until, inclusive, is Priya's."""
        flow = self.setup_flow()
        (recorded,) = flow.decide(AISHA, "qa", at=datetime(2026, 12, day, 2, tzinfo=UTC))
        assert isinstance(recorded, DecisionRecorded)
        assert recorded.decision.on_behalf_of == Person(slack_id="U0QA00001")
        assert recorded.progress == "1 of 2 approvals"
        with pytest.raises(NotEntitled, match="already recorded"):
            flow.decide(PRIYA, "qa")

    @pytest.mark.parametrize(
        ("at", "today"),
        [
            (datetime(2026, 11, 30, 15, 59, tzinfo=UTC), "2026-11-30"),
            # 00:30 on the 11th in Kuala Lumpur is still the 10th in UTC.
            (datetime(2026, 12, 10, 16, 30, tzinfo=UTC), "2026-12-11"),
        ],
    )
    def test_delegation_outside_its_dates_is_refused(self, at: datetime, today: str) -> None:
        """Before start or after until, in the team's own time zone, Aisha has no say."""
        flow = self.setup_flow()
        message = f"Your delegation for U0QA00001 covers 2026-12-01 to 2026-12-10; today is {today}"
        with pytest.raises(NotEntitled, match=re.escape(message)):
            flow.decide(AISHA, "qa", at=at)

    def test_entitlement_is_judged_when_clicked_not_when_applied(self) -> None:
        """A click on the last day applied after midnight still counts."""
        flow = self.setup_flow()
        flow.now = datetime(2026, 12, 12, tzinfo=UTC)
        flow.decide(AISHA, "qa", at=datetime(2026, 12, 10, 9, tzinfo=UTC))
        assert len(flow.state.decisions) == 1

    def test_member_delegate_names_whom_they_stand_in_for(self) -> None:
        """Tomas approves as himself, then explicitly for Priya: QA (all) signs off."""
        flow = Flow.start().to_signoff()
        flow.delegations.append(
            Delegation(
                approver=PRIYA, delegate=TOMAS, start=date(2026, 12, 1), until=date(2026, 12, 1)
            )
        )
        flow.decide(TOMAS, "qa")
        with pytest.raises(NotEntitled, match="already recorded"):
            flow.decide(TOMAS, "qa")
        assert TeamSignedOff(team="qa", round=1) in flow.decide(TOMAS, "qa", for_=PRIYA)


class TestIdempotence:
    def test_same_event_twice_is_applied_once(self) -> None:
        """A redelivered click records nothing and notices nothing."""
        flow = Flow.start().to_signoff()
        event = Decide(event_id="slack-1", actor=PRIYA, at=T0, team="qa", verdict=Verdict.APPROVE)
        flow.send(event)
        once = flow.state
        assert flow.send(event) == ()
        assert flow.state == once

    def test_replay_on_a_finished_request_is_a_no_op(self) -> None:
        """An event already applied stays a no-op after the request ended."""
        flow = Flow.start()
        event = Cancel(event_id="cancel-1", actor=LUCAS, at=T0, reason="Withdrawn")
        flow.send(event)
        assert flow.send(event) == ()

    def test_refused_event_is_not_remembered(self) -> None:
        """A refusal leaves the state as it was, so the event is refused again."""
        flow = Flow.start().to_signoff()
        before = flow.state
        event = Decide(
            event_id="slack-2", actor=OUTSIDER, at=T0, team="qa", verdict=Verdict.APPROVE
        )
        for _ in range(2):
            with pytest.raises(NotEntitled):
                flow.send(event)
        assert flow.state == before


class TestCancel:
    @pytest.mark.parametrize("who", [LUCAS, DANIEL, GRACE])
    def test_requester_experts_and_leads_may_cancel(self, who: Person) -> None:
        """The requester, an expert or a sign-off team's lead cancels, with a notice."""
        flow = Flow.start().to_signoff()
        notices = flow.cancel(who, "Superseded by MODREQ-40")
        assert flow.state.stage is Stage.CANCELLED
        assert Cancelled(by=who, reason="Superseded by MODREQ-40") in notices

    def test_others_may_not(self) -> None:
        """A sign-off member who is not a lead cannot cancel."""
        with pytest.raises(NotEntitled, match="Only the requester"):
            Flow.start().cancel(MARCO)

    def test_cancel_while_waiting_clears_the_question(self) -> None:
        """Cancelling in NEEDS_INFO leaves nothing waiting."""
        flow = Flow.start()
        flow.ask(ELENA)
        flow.cancel()
        assert (flow.state.stage, flow.state.resume_stage, flow.state.question) == (
            Stage.CANCELLED,
            None,
            None,
        )


class TestTerminal:
    @pytest.fixture(params=["rejected_in_signoff", "cancelled", "rejected_by_expert"])
    def finished(self, request: pytest.FixtureRequest) -> Flow:
        """A request in each terminal stage these events reach (DONE needs the SOP step)."""
        flow = Flow.start().to_signoff()
        if request.param == "rejected_in_signoff":
            flow.decide(PRIYA, "qa", Verdict.REJECT)
        elif request.param == "cancelled":
            flow.cancel()
        else:
            flow = Flow.start()
            flow.assess(ELENA, Recommendation.REJECT)
        return flow

    def test_accepts_nothing(self, finished: Flow) -> None:
        """Every kind of event is refused once the request has ended."""
        attempts: list[Callable[[], object]] = [
            lambda: finished.claim(DANIEL),
            lambda: finished.assess(ELENA),
            lambda: finished.decide(TOMAS, "qa"),
            lambda: finished.ask(ELENA),
            lambda: finished.reply(),
            lambda: finished.cancel(),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidTransition, match="takes no more events"):
                attempt()


def test_stage_changes_carry_a_reason() -> None:
    """Each StageChanged explains itself in a sentence."""
    flow = Flow.start()
    flow.claim(ELENA)
    change = stage_change(flow.assess(ELENA))
    assert (change.from_stage, change.to_stage) == (Stage.EXPERT_REVIEW, Stage.SIGN_OFF)
    assert change.reason == "Elena Petrova recommends the change; sign-off round 1"


def test_stage_since_moves_only_with_the_stage() -> None:
    """`now` moves `stage_since` only when the stage changes."""
    flow = Flow.start()
    flow.now = T0 + timedelta(hours=1)
    flow.claim(ELENA)
    assert flow.state.stage_since == T0
    flow.assess(ELENA)
    assert flow.state.stage_since == T0 + timedelta(hours=1)
