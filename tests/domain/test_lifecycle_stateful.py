"""The lifecycle under random events by random people on random dates, checked by invariants.

People come from every side: the experts, the sign-off members, the requester (sometimes a
QA member or an expert themselves), delegates with and without a roster seat, outsiders,
and the same humans known by another identifier. Whatever happens:
- a refused event changes nothing;
- every stage change is one the transition table allows, and is announced;
- the same event applied twice is the same as once;
- decisions only accumulate, and each recorded one is entitled by an independent reading of
  the rules;
- nothing reaches SOP_UPDATE unless every sign-off team of the round reached its quorum with
  approvals from entitled people only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.assessment import Recommendation
from domain.entitlement import Delegation
from domain.errors import InvalidTransition, NotEntitled
from domain.lifecycle import (
    AskRequester,
    Cancel,
    Claim,
    Decide,
    Event,
    RequesterReplied,
    RequestState,
    SubmitAssessment,
    apply,
    begin,
)
from domain.notices import Notice, StageChanged, TeamSignedOff
from domain.people import Person
from domain.rules import QuorumKind, RejectOutcome, Rules
from domain.signoff import Decision, Verdict
from domain.stages import TERMINAL, TRANSITIONS, Stage
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
    SOFIA,
    T0,
    TOMAS,
    make_assessment,
    make_route,
    make_rules,
)

KUALA_LUMPUR = ZoneInfo("Asia/Kuala_Lumpur")
SOFIA_BY_EMAIL = Person(email="Sofia@Example.com", name="Sofia (Jira)")
LUCAS_IN_JIRA = Person(jira_account_id="jira-lucas", name="Lucas M.")
PRIYA_BY_EMAIL_ONLY = Person(email="priya@example.com")  # nobody told govflow it is Priya

EVERYONE = [
    ELENA,
    DANIEL,
    PRIYA,
    TOMAS,
    GRACE,
    MARCO,
    SOFIA,
    SOFIA_BY_EMAIL,
    HANNAH,
    AISHA,
    LUCAS,
    LUCAS_IN_JIRA,
    OUTSIDER,
    PRIYA_BY_EMAIL_ONLY,
]
APPROVERS = [PRIYA, TOMAS, GRACE, MARCO, SOFIA, SOFIA_BY_EMAIL, HANNAH, AISHA]
TEAMS = ["qa", "bpo", "product", "experts"]
DELEGATIONS = [
    Delegation(approver=PRIYA, delegate=AISHA, start=date(2026, 12, 3), until=date(2026, 12, 6)),
    Delegation(approver=PRIYA, delegate=TOMAS, start=date(2026, 12, 1), until=date(2026, 12, 10)),
    Delegation(approver=GRACE, delegate=MARCO, start=date(2026, 12, 5), until=date(2026, 12, 8)),
    Delegation(approver=HANNAH, delegate=LUCAS, start=date(2026, 12, 1), until=date(2026, 12, 14)),
    Delegation(approver=ELENA, delegate=AISHA, start=date(2026, 12, 2), until=date(2026, 12, 4)),
]

people = st.sampled_from(EVERYONE)
# Up to two weeks on, at any hour, so clicks fall on both sides of each delegation's dates
# in Kuala Lumpur and in UTC.
times = st.builds(
    lambda d, h: T0 + timedelta(days=d, hours=h), st.integers(0, 13), st.integers(0, 23)
)


def _same(a: Person, b: Person) -> bool:
    """Identity for the oracle, written out again rather than borrowed from the domain."""
    pairs = [(a.slack_id, b.slack_id), (a.email, b.email), (a.jira_account_id, b.jira_account_id)]
    return any(x is not None and x == y for x, y in pairs)


def _entry(person: Person, roster: list[str]) -> str | None:
    for entry in roster:
        if ("@" in entry and person.email == entry.casefold()) or person.slack_id == entry:
            return entry
    return None


def entitled_member(decision: Decision, state: RequestState, rules: Rules) -> str | None:
    """The roster entry an approval may count for under the rules, or None if it may not."""
    if _same(decision.approver, state.requester):
        return None
    member = decision.on_behalf_of or decision.approver
    if _same(member, state.requester):
        return None
    roster = rules.teams[decision.team].roster
    entry = _entry(member, roster)
    if entry is None or decision.on_behalf_of is None:
        return entry
    day = decision.at.astimezone(KUALA_LUMPUR).date()
    covered = any(
        _entry(d.approver, [entry])
        and _same(d.delegate, decision.approver)
        and d.start <= day <= d.until
        for d in DELEGATIONS
    )
    return entry if covered else None


def quorum_met(team: str, state: RequestState, rules: Rules) -> bool:
    """Whether `team` reached its quorum in the state's round, counting entitled approvals."""
    (signoff,) = [s for s in state.signoff if s.team == team]
    mine = [d for d in state.decisions if d.round == state.round and d.team == team]
    if any(d.verdict is not Verdict.APPROVE for d in mine):
        return False
    members = {entitled_member(d, state, rules) for d in mine} - {None}
    eligible = [e for e in rules.teams[team].roster if _entry(state.requester, [e]) is None]
    if signoff.quorum.kind is QuorumKind.ALL:
        return members >= set(eligible) and bool(eligible)
    needed = (signoff.quorum.n or 1) if signoff.quorum.kind is QuorumKind.N_OF else 1
    return len(members) >= needed


@dataclass
class Counter:
    """Event ids, unique within a run."""

    n: int = 0

    def next(self) -> str:
        """A fresh event id."""
        self.n += 1
        return f"ev-{self.n}"


class LifecycleMachine(RuleBasedStateMachine):
    """Random events against one request."""

    def __init__(self) -> None:
        super().__init__()
        self.config = make_rules()
        self.ids = Counter()
        self.applied: list[tuple[Event, RequestState]] = []

    @initialize(
        requester=st.sampled_from([LUCAS, PRIYA, SOFIA_BY_EMAIL, ELENA, OUTSIDER]),
        teams=st.lists(st.sampled_from(["qa", "bpo", "product"]), min_size=1, unique=True),
        on_reject=st.sampled_from(RejectOutcome),
        in_signoff=st.booleans(),
    )
    def start(
        self, requester: Person, teams: list[str], on_reject: RejectOutcome, in_signoff: bool
    ) -> None:
        """A request routed to the experts, half the time already recommended for sign-off."""
        self.state = begin("MODREQ-7", requester, make_route(teams, on_reject), self.config, T0)
        if in_signoff:
            body = make_assessment(DANIEL)
            self.send(
                SubmitAssessment(event_id=self.ids.next(), actor=DANIEL, at=T0, assessment=body)
            )

    def send(self, ev: Event) -> None:
        """Apply `ev` and check everything that must hold of one step."""
        before = self.state
        frozen = before.model_dump_json()
        try:
            outcome = apply(before, ev, self.config, DELEGATIONS, ev.at)
        except (NotEntitled, InvalidTransition):
            assert before.model_dump_json() == frozen
            event(f"{type(ev).__name__} refused")
            return
        after = outcome.state
        self.check_step(before, after, ev, outcome.notices)
        again = apply(after, ev, self.config, DELEGATIONS, ev.at)
        assert (again.state, again.notices) == (after, ())
        self.applied.append((ev, after))
        self.state = after
        event(f"{type(ev).__name__} applied")

    def check_step(
        self, before: RequestState, after: RequestState, ev: Event, notices: tuple[Notice, ...]
    ) -> None:
        """Transitions, announcements, growth of decisions, entitlement, quorum."""
        changes = [n for n in notices if isinstance(n, StageChanged)]
        stage = before.stage
        for change in changes:
            assert change.from_stage is stage
            assert change.to_stage in TRANSITIONS[stage]
            stage = change.to_stage
        assert stage is after.stage
        assert after.decisions[: len(before.decisions)] == before.decisions
        assert after.processed == (*before.processed, ev.event_id)
        assert after.round >= before.round
        for decision in after.decisions[len(before.decisions) :]:
            assert decision.round == before.round
            assert entitled_member(decision, before, self.config) is not None
        for notice in notices:
            if isinstance(notice, TeamSignedOff):
                assert quorum_met(notice.team, after, self.config)
        if after.stage is not before.stage:
            event(f"reached {after.stage}")

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(who=people, at=times)
    def claim(self, who: Person, at: datetime) -> None:
        """Someone claims the request."""
        self.send(Claim(event_id=self.ids.next(), actor=who, at=at))

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(
        who=st.one_of(st.sampled_from([ELENA, DANIEL]), people),
        recommendation=st.sampled_from(
            [Recommendation.PROCEED] * 4 + [Recommendation.NEEDS_INFO, Recommendation.REJECT]
        ),
        at=times,
    )
    def assess(self, who: Person, recommendation: Recommendation, at: datetime) -> None:
        """Someone submits an assessment, mostly recommending to proceed."""
        body = make_assessment(who, recommendation, at=at)
        self.send(SubmitAssessment(event_id=self.ids.next(), actor=who, at=at, assessment=body))

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(
        who=st.one_of(st.sampled_from(APPROVERS), people),
        team=st.sampled_from(TEAMS),
        verdict=st.sampled_from([Verdict.APPROVE] * 6 + [Verdict.REJECT, Verdict.REQUEST_CHANGES]),
        for_=st.one_of(st.none(), st.none(), st.sampled_from([PRIYA, GRACE, HANNAH, TOMAS])),
        at=times,
    )
    def decide(
        self, who: Person, team: str, verdict: Verdict, for_: Person | None, at: datetime
    ) -> None:
        """Someone clicks a sign-off button, maybe for someone else."""
        reason = "" if verdict is Verdict.APPROVE else "Not yet."
        self.send(
            Decide(
                event_id=self.ids.next(),
                actor=who,
                at=at,
                team=team,
                verdict=verdict,
                reason=reason,
                on_behalf_of=for_,
            )
        )

    @precondition(lambda self: self.state.stage is Stage.SIGN_OFF)
    @rule(data=st.data(), at=times)
    def decide_as_a_member(self, data: st.DataObject, at: datetime) -> None:
        """A member (or a delegate) of a team of this sign-off clicks, mostly to approve."""
        team = data.draw(st.sampled_from([s.team for s in self.state.signoff]))
        roster = self.config.teams[team].roster
        members = [p for p in EVERYONE if _entry(p, roster) is not None]
        delegates = [d.delegate for d in DELEGATIONS if _entry(d.approver, roster) is not None]
        who = data.draw(st.sampled_from(members + delegates))
        verdict = data.draw(st.sampled_from([Verdict.APPROVE] * 12 + list(Verdict)))
        for_ = data.draw(st.one_of(st.none(), st.none(), st.sampled_from(members)))
        reason = "" if verdict is Verdict.APPROVE else "Not yet."
        eid = self.ids.next()
        self.send(
            Decide(
                event_id=eid,
                actor=who,
                at=at,
                team=team,
                verdict=verdict,
                reason=reason,
                on_behalf_of=for_,
            )
        )

    @precondition(lambda self: self.state.stage in TERMINAL)
    @rule(who=people, at=times)
    def poke_finished(self, who: Person, at: datetime) -> None:
        """A finished request refuses whatever comes."""
        before = self.state
        for ev in (
            Claim(event_id=self.ids.next(), actor=who, at=at),
            Cancel(event_id=self.ids.next(), actor=who, at=at, reason="Again"),
        ):
            try:
                apply(before, ev, self.config, DELEGATIONS, at)
            except InvalidTransition:
                continue
            raise AssertionError(f"{before.stage} request accepted {ev.kind}")

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(who=people, at=times, really=st.integers(0, 2))
    def ask(self, who: Person, at: datetime, really: int) -> None:
        """Now and then, someone asks the requester a question."""
        if really == 0:
            self.send(AskRequester(event_id=self.ids.next(), actor=who, at=at, question="Which?"))

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(who=st.one_of(st.sampled_from([LUCAS_IN_JIRA]), people), at=times)
    def reply(self, who: Person, at: datetime) -> None:
        """A Jira comment arrives."""
        eid = self.ids.next()
        self.send(
            RequesterReplied(event_id=eid, actor=who, at=at, body="Answer.", comment_id=f"c{eid}")
        )

    @precondition(lambda self: self.state.stage not in TERMINAL)
    @rule(who=people, at=times, really=st.integers(0, 9))
    def cancel(self, who: Person, at: datetime, really: int) -> None:
        """Now and then, someone tries to cancel."""
        if really == 0:
            self.send(Cancel(event_id=self.ids.next(), actor=who, at=at, reason="Withdrawn"))

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A past event delivered again changes nothing now."""
        past, _ = data.draw(st.sampled_from(self.applied))
        outcome = apply(self.state, past, self.config, DELEGATIONS, past.at)
        assert (outcome.state, outcome.notices) == (self.state, ())

    @invariant()
    def sop_update_only_after_quorum(self) -> None:
        """In (or paused from) SOP_UPDATE, every team of the round has its quorum."""
        state = getattr(self, "state", None)
        if state is None:
            return
        if Stage.SOP_UPDATE in (state.stage, state.resume_stage):
            assert state.round >= 1
            assert all(quorum_met(s.team, state, self.config) for s in state.signoff)

    @invariant()
    def one_decision_per_member_and_round(self) -> None:
        """However often a member or their delegates click, one decision counts per round."""
        state = getattr(self, "state", None)
        if state is None:
            return
        seen = [(d.round, d.team, entitled_member(d, state, self.config)) for d in state.decisions]
        assert len(seen) == len(set(seen))

    @invariant()
    def stored_state_reads_back(self) -> None:
        """The state is always one the ledger can store and load."""
        if hasattr(self, "state"):
            assert RequestState.model_validate_json(self.state.model_dump_json()) == self.state


LifecycleMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycle = LifecycleMachine.TestCase
