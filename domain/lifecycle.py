"""The request lifecycle from expert review to SOP update: events, state, and `apply`.

`apply(state, event, rules, delegations, now)` is the whole state machine: it checks the
event against the stage (`InvalidTransition`) and the actor's entitlement (`NotEntitled`),
and returns the new state with the notices describing what happened. It is pure, so the
Slack receiver can call it on the current state to refuse a click at once, and the advance
flow calls it again, under the request's row lock, to record it.

Choices where the brief left room:
- Idempotence is per `event_id`: an id already in `processed` is a no-op with no notices,
  whatever the event says, so a redelivered click or a re-run advance records nothing twice.
  A refused event is not remembered; offered again it is refused again.
- Entitlement is judged on the event's `at` (the click), in the acting team's time zone, not
  on `now`: an advance run that is late must not turn a valid click invalid, or the reverse.
  `now` stamps `stage_since`, which is when govflow moved the request and starts its SLA
  clocks.
- The requester is left out of every sign-off roster for their own request: they never
  decide, and a team with quorum `all` does not wait for them.
- A team's rejection, with `on_reject: return_to_expert`, and a request for changes both
  close the round and return to EXPERT_REVIEW with the assessment kept; the expert's next
  PROCEED opens round + 1, in which earlier approvals count for nothing.
- NEEDS_INFO remembers the stage it paused (`resume_stage`); the requester's reply resumes it
  with the round and its decisions intact. Comments by anyone else are noticed
  (`InfoReceived(resumed=False)`) but do not resume, and replies outside NEEDS_INFO are
  refused: nothing is waiting for them.
- An expert's NEEDS_INFO assessment asks its rationale as the question. `assessment` is the
  latest one submitted, whatever it recommended.
- Claiming is allowed in every open stage from expert review on (an expert may take over a
  request in sign-off); a claim by the current assignee changes nothing.
- Publishing the SOP update (SOP_UPDATE -> DONE) is not an event here yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from config.rules import RejectOutcome, Route, Rules
from domain.assessment import MAX_TEXT, Assessment, Recommendation
from domain.entitlement import (
    DECISIONS,
    ActingAs,
    Action,
    DelegationLike,
    authorize,
    eligible_roster,
    local_date,
    team_label,
)
from domain.errors import ConfigError, ConfigProblem, InvalidTransition
from domain.notices import (
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
from domain.people import Person, same_person
from domain.signoff import (
    Decision,
    SignoffTeam,
    TeamState,
    Verdict,
    progress_text,
    tally,
)
from domain.sla import UtcDateTime
from domain.stages import TERMINAL, TRANSITIONS, Stage, check_transition

# A Jira comment holds at most 32,767 characters.
MAX_COMMENT = 32_767
# The stages a NEEDS_INFO pause can return to.
RESUMABLE = TRANSITIONS[Stage.NEEDS_INFO] - TERMINAL


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=255)
    actor: Person
    at: UtcDateTime


class Claim(_Event):
    """An expert takes the request."""

    kind: Literal["claim"] = "claim"


class SubmitAssessment(_Event):
    """The expert submits their assessment; its author must be the actor."""

    kind: Literal["submit_assessment"] = "submit_assessment"
    assessment: Assessment

    @model_validator(mode="after")
    def _authored_by_actor(self) -> SubmitAssessment:
        # The clicker is verified; an author field that disagrees is a bug or a forgery.
        if not same_person(self.assessment.author, self.actor):
            raise ValueError("the assessment's author must be the person submitting it")
        return self


class Decide(_Event):
    """A sign-off click for `team`; `on_behalf_of` names the away member a delegate acts for."""

    kind: Literal["decide"] = "decide"
    team: str
    verdict: Verdict
    reason: str = Field(default="", max_length=MAX_TEXT)
    on_behalf_of: Person | None = None

    @field_validator("reason", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reasoned(self) -> Decide:
        if self.verdict is not Verdict.APPROVE and not self.reason:
            raise ValueError(f"{self.verdict} needs a reason")
        return self


class AskRequester(_Event):
    """Someone working on the request asks the requester a question on Jira."""

    kind: Literal["ask_requester"] = "ask_requester"
    question: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("question", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class RequesterReplied(_Event):
    """A Jira comment arrived while the request waits; `actor` is the comment's author."""

    kind: Literal["requester_replied"] = "requester_replied"
    body: str = Field(max_length=MAX_COMMENT)
    comment_id: str = Field(min_length=1)


class Cancel(_Event):
    """The request is withdrawn or called off."""

    kind: Literal["cancel"] = "cancel"
    reason: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("reason", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


Event = Annotated[
    Claim | SubmitAssessment | Decide | AskRequester | RequesterReplied | Cancel,
    Field(discriminator="kind"),
]

EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


class Question(BaseModel):
    """The question the request waits on, who asked it and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    asked_by: Person
    asked_at: UtcDateTime


class RequestState(BaseModel):
    """Everything the lifecycle knows about one request; the ledger stores it as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    stage: Stage
    stage_since: UtcDateTime
    resume_stage: Stage | None = None
    requester: Person
    expert_team: str
    signoff: tuple[SignoffTeam, ...]
    on_reject: RejectOutcome = RejectOutcome.END
    assignee: Person | None = None
    round: int = Field(default=0, ge=0)
    assessment: Assessment | None = None
    decisions: tuple[Decision, ...] = ()
    question: Question | None = None
    processed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RequestState:
        waiting = self.stage is Stage.NEEDS_INFO
        if waiting != (self.resume_stage is not None):
            raise ValueError("resume_stage is set exactly while the request is in NEEDS_INFO")
        if self.resume_stage is not None and self.resume_stage not in RESUMABLE:
            raise ValueError(f"NEEDS_INFO cannot resume {self.resume_stage}")
        if any(d.round > self.round for d in self.decisions):
            raise ValueError("a decision belongs to a round not yet opened")
        return self

    def round_decisions(self) -> tuple[Decision, ...]:
        """The decisions of the current sign-off round, in the order recorded."""
        return tuple(d for d in self.decisions if d.round == self.round)

    def signoff_team(self, team: str) -> SignoffTeam | None:
        """The routed sign-off entry of `team`, if it signs off this request."""
        return next((s for s in self.signoff if s.team == team), None)


@dataclass(frozen=True)
class Outcome:
    """The state after an event, and what happened, in order."""

    state: RequestState
    notices: tuple[Notice, ...]


def begin(key: str, requester: Person, route: Route, rules: Rules, now: datetime) -> RequestState:
    """The state of a freshly routed request: in EXPERT_REVIEW, sign-off teams snapshotted."""
    teams = [route.expert_team, *(s.team for s in route.signoff)]
    missing = [t for t in dict.fromkeys(teams) if t not in rules.teams]
    if missing:
        raise ConfigError(
            [
                ConfigProblem(
                    source="rules",
                    line=None,
                    where=f"routing {route.name}",
                    message=f"names unknown team `{team}`",
                )
                for team in missing
            ]
        )
    return RequestState(
        key=key,
        stage=Stage.EXPERT_REVIEW,
        stage_since=now,
        requester=requester,
        expert_team=route.expert_team,
        signoff=tuple(SignoffTeam(team=s.team, quorum=s.quorum) for s in route.signoff),
        on_reject=route.on_reject,
    )


def apply(
    state: RequestState,
    event: Event,
    rules: Rules,
    delegations: Iterable[DelegationLike],
    now: datetime,
) -> Outcome:
    """Apply one event; raise InvalidTransition or NotEntitled (state untouched) if refused."""
    if event.event_id in state.processed:
        return Outcome(state=state, notices=())
    if state.stage in TERMINAL:
        raise InvalidTransition(f"{state.key} is {state.stage}: it takes no more events")
    step = _Step(state=state, rules=rules, delegations=tuple(delegations), now=now)
    match event:
        case Claim():
            step.claim(event)
        case SubmitAssessment():
            step.submit(event)
        case Decide():
            step.decide(event)
        case AskRequester():
            step.ask(event)
        case RequesterReplied():
            step.reply(event)
        case Cancel():
            step.cancel(event)
    done = step.state.model_copy(update={"processed": (*step.state.processed, event.event_id)})
    return Outcome(state=done, notices=tuple(step.notices))


class _Step:
    """One event's application: a working state and the notices gathered so far."""

    def __init__(
        self,
        *,
        state: RequestState,
        rules: Rules,
        delegations: tuple[DelegationLike, ...],
        now: datetime,
    ) -> None:
        self.state = state
        self.rules = rules
        self.delegations = delegations
        self.now = now
        self.notices: list[Notice] = []

    def authorize(self, event: Event, action: Action, *, team: str | None = None) -> ActingAs:
        """Entitlement on the event's date in the acting team's calendar."""
        on = local_date(self.rules, team or self.state.expert_team, event.at)
        return authorize(
            event.actor,
            action,
            self.state,
            self.rules,
            on,
            delegations=self.delegations,
            team=team,
            on_behalf_of=event.on_behalf_of if isinstance(event, Decide) else None,
        )

    def update(self, **changes: object) -> None:
        """Replace fields of the working state."""
        self.state = self.state.model_copy(update=changes)

    def move(self, target: Stage, reason: str) -> None:
        """Change stage as the transition table allows, with a StageChanged notice."""
        check_transition(self.state.stage, target)
        source = self.state.stage
        self.update(stage=target, stage_since=self.now)
        self.notices.append(StageChanged(from_stage=source, to_stage=target, reason=reason))

    def claim(self, event: Claim) -> None:
        """Make the actor the assignee; the current assignee claiming again changes nothing."""
        acting = self.authorize(event, Action.CLAIM)
        self.take(acting)

    def take(self, acting: ActingAs) -> None:
        """Record `acting.actor` as the assignee unless they already are."""
        previous = self.state.assignee
        if previous is not None and same_person(previous, acting.actor):
            return
        self.update(assignee=acting.actor)
        self.notices.append(
            Claimed(by=acting.actor, previous=previous, on_behalf_of=acting.on_behalf_of)
        )

    def submit(self, event: SubmitAssessment) -> None:
        """Record the assessment and follow its recommendation."""
        acting = self.authorize(event, Action.ASSESS)
        if self.state.assignee is None:
            self.take(acting)
        assessment = event.assessment
        who = acting.actor.label
        match assessment.recommendation:
            case Recommendation.PROCEED:
                number = self.state.round + 1
                self.update(assessment=assessment, round=number)
                self.notices.append(AssessmentRecorded(assessment=assessment, round=number))
                self.move(Stage.SIGN_OFF, f"{who} recommends the change; sign-off round {number}")
                self.notices.append(SignoffOpened(round=number, teams=self.state.signoff))
                # A route without sign-off teams has nothing to wait for.
                if not self.state.signoff:
                    self.complete_round()
            case Recommendation.REJECT:
                self.update(assessment=assessment)
                self.notices.append(
                    AssessmentRecorded(assessment=assessment, round=self.state.round)
                )
                self.notices.append(
                    Rejected(
                        by=acting.actor,
                        reason=assessment.rationale,
                        team=self.state.expert_team,
                        ends_request=True,
                    )
                )
                self.move(Stage.REJECTED, f"{who} recommends rejecting: {assessment.rationale}")
            case Recommendation.NEEDS_INFO:
                self.update(assessment=assessment)
                self.notices.append(
                    AssessmentRecorded(assessment=assessment, round=self.state.round)
                )
                self.wait_for_requester(acting.actor, assessment.rationale, event.at)

    def decide(self, event: Decide) -> None:
        """Record a sign-off decision and move on if it settles the team or the round."""
        acting = self.authorize(event, DECISIONS[event.verdict], team=event.team)
        state = self.state
        signoff = state.signoff_team(event.team)
        assert signoff is not None  # authorize refuses teams outside the sign-off
        decision = Decision(
            round=state.round,
            team=event.team,
            approver=event.actor,
            on_behalf_of=acting.on_behalf_of,
            verdict=event.verdict,
            reason=event.reason,
            at=event.at,
            event_id=event.event_id,
        )
        self.update(decisions=(*state.decisions, decision))
        roster = eligible_roster(self.rules, event.team, state.requester)
        mine = [d for d in self.state.round_decisions() if d.team == event.team]
        after = tally(event.team, signoff.quorum, roster, mine).state
        progress = progress_text(event.team, signoff.quorum, roster, mine)
        self.notices.append(
            DecisionRecorded(decision=decision, team_state_after=after, progress=progress)
        )
        name = team_label(self.rules, event.team)
        if after is TeamState.REJECTED:
            ends = state.on_reject is RejectOutcome.END
            self.notices.append(
                Rejected(by=event.actor, reason=event.reason, team=event.team, ends_request=ends)
            )
            target = Stage.REJECTED if ends else Stage.EXPERT_REVIEW
            self.move(target, f"{name} rejected the change: {event.reason}")
        elif after is TeamState.CHANGES_REQUESTED:
            self.notices.append(
                ChangesRequested(by=event.actor, team=event.team, feedback=event.reason)
            )
            self.move(Stage.EXPERT_REVIEW, f"{name} asked for changes: {event.reason}")
        elif after is TeamState.APPROVED:
            self.notices.append(TeamSignedOff(team=event.team, round=state.round))
            if all(self.team_approved(s) for s in state.signoff):
                self.complete_round()

    def team_approved(self, signoff: SignoffTeam) -> bool:
        """Whether `signoff`'s team reached quorum in the current round."""
        roster = eligible_roster(self.rules, signoff.team, self.state.requester)
        mine = [d for d in self.state.round_decisions() if d.team == signoff.team]
        return tally(signoff.team, signoff.quorum, roster, mine).state is TeamState.APPROVED

    def complete_round(self) -> None:
        """Every team approved: on to the SOP update."""
        number = self.state.round
        self.notices.append(SignoffComplete(round=number))
        self.move(Stage.SOP_UPDATE, f"every sign-off team approved round {number}")

    def ask(self, event: AskRequester) -> None:
        """Pause the request on a question to the requester."""
        acting = self.authorize(event, Action.ASK)
        self.wait_for_requester(acting.actor, event.question, event.at)

    def wait_for_requester(self, by: Person, question: str, at: datetime) -> None:
        """Go to NEEDS_INFO, remembering the stage to resume."""
        resume = self.state.stage
        check_transition(resume, Stage.NEEDS_INFO)
        self.update(resume_stage=resume, question=Question(text=question, asked_by=by, asked_at=at))
        self.notices.append(InfoRequested(by=by, question=question, resume_stage=resume))
        self.move(Stage.NEEDS_INFO, f"{by.label} asked the requester: {question}")

    def reply(self, event: RequesterReplied) -> None:
        """Resume on the requester's answer; note anyone else's comment."""
        state = self.state
        if state.stage is not Stage.NEEDS_INFO or state.resume_stage is None:
            raise InvalidTransition(f"{state.key} is not waiting for an answer from its requester")
        answered = same_person(event.actor, state.requester)
        self.notices.append(
            InfoReceived(
                by=event.actor, body=event.body, comment_id=event.comment_id, resumed=answered
            )
        )
        if answered:
            resume = state.resume_stage
            self.move(resume, f"{event.actor.label} answered the question")
            self.update(resume_stage=None, question=None)

    def cancel(self, event: Cancel) -> None:
        """End the request, whatever stage it is in."""
        acting = self.authorize(event, Action.CANCEL)
        self.notices.append(Cancelled(by=acting.actor, reason=event.reason))
        self.move(Stage.CANCELLED, f"{acting.actor.label} cancelled it: {event.reason}")
        self.update(resume_stage=None, question=None)
