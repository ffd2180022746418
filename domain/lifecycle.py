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
- The requester's Slack id may be learned after routing (Slack did not answer at intake):
  `RequesterIdentified`, recorded by govflow only, adds it to `requester` for the request's
  email, so rosters naming that Slack id leave them out from then on; a sign-off team that
  was waiting only for the requester's own approval is signed off there and then.
- Claiming is allowed in every open stage from expert review on (an expert may take over a
  request in sign-off); a claim by the current assignee changes nothing.

The SOP update (the registry is read by the caller and passed in as `sops`, the latest
version of each SOP the request names; None means "not consulted", as in the receiver's
quick check, and then nothing registry-bound is decided):
- A PROCEED assessment builds one draft per affected SOP from the proposed change against
  the SOP's latest version, and the drafts are what sign-off approves: each decision records
  the drafts' content hashes. A change that does not apply keeps the request in expert
  review (`DraftRefused`, worded for the expert); an SOP the registry does not hold gets no
  draft (`DraftUnavailable`): sign-off goes on, publication is refused until it is sent back
  and assessed again.
- In SOP_UPDATE the owner team (the route's `sop_owner_team`, else the expert team) may
  publish, edit a draft, or send the request back to expert review with a reason.
- Any change to a draft after sign-off (an edit, or a clean rebase) opens a fresh sign-off
  round, saying why: every published text carries the approval of every team for exactly
  that text. A rebase is not treated as harmless even when clean: it puts another request's
  change next to ours, which the approvers have not seen together, and re-approval is a
  rare, cheap round of clicks while the invariant stays simple to audit.
- Publishing when the registry moved on: a clean rebase goes back to sign-off as above; a
  conflict stays with the owner (`PublishConflict`, conflict hunks kept in the state). An
  edit of a conflicted draft is applied to the newer version, and sign-off reopens once no
  conflict is left. Nothing is published until every draft can be, so a request's SOPs
  change together.
- The effective date is today in the owner team's calendar unless the event names one; it
  is never before the registry's today (UTC) nor before the latest version's own date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

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
from domain.errors import (
    ConfigError,
    ConfigProblem,
    InvalidTransition,
    NotEntitled,
    ProposedChangeInvalid,
)
from domain.notices import (
    AssessmentRecorded,
    Cancelled,
    ChangesRequested,
    Claimed,
    DecisionRecorded,
    DraftEdited,
    DraftPrepared,
    DraftRebased,
    DraftRefused,
    DraftUnavailable,
    InfoReceived,
    InfoRequested,
    Notice,
    PublishConflict,
    PublishedVersion,
    Rejected,
    RequesterMatched,
    SentBack,
    SignoffComplete,
    SignoffInvalidated,
    SignoffOpened,
    SopPublished,
    StageChanged,
    TeamSignedOff,
)
from domain.people import Person, same_person
from domain.request import RESUMABLE as RESUMABLE
from domain.request import Question as Question
from domain.request import RequestState as RequestState
from domain.request import SopConflict as SopConflict
from domain.request import SopDraft as SopDraft
from domain.rules import RejectOutcome, Route, Rules
from domain.signoff import (
    Decision,
    SignoffTeam,
    TeamState,
    Verdict,
    tally,
)
from domain.sla import UtcDateTime
from domain.sop import SopVersion
from domain.sop_change import parse_proposed_change
from domain.sop_draft import draft_from_change, revise_text
from domain.sop_merge import Conflict, rebase
from domain.stages import TERMINAL, Stage, check_transition
from domain.waiting import TeamProgress

# A Jira comment holds at most 32,767 characters.
MAX_COMMENT = 32_767
# The actor of the events govflow itself records (a person no Slack or Jira id can match).
GOVFLOW = Person(jira_account_id="govflow", name="govflow")


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


class RequesterIdentified(_Event):
    """govflow matched the requester's email to a Slack user (`users.lookupByEmail`)."""

    kind: Literal["requester_identified"] = "requester_identified"
    email: str = Field(min_length=3, max_length=320)
    slack_id: str = Field(min_length=1, max_length=32)


class Cancel(_Event):
    """The request is withdrawn or called off."""

    kind: Literal["cancel"] = "cancel"
    reason: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("reason", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class PublishSop(_Event):
    """The SOP owner publishes every draft; `effective_date` None means today."""

    kind: Literal["publish_sop"] = "publish_sop"
    effective_date: date | None = None


class EditDraft(_Event):
    """The SOP owner revises one draft, in the proposed-change format (section edits)."""

    kind: Literal["edit_draft"] = "edit_draft"
    sop_id: str = Field(min_length=1, max_length=64)
    change: str = Field(min_length=1, max_length=MAX_TEXT)


class SendBack(_Event):
    """The SOP owner returns the request to expert review."""

    kind: Literal["send_back"] = "send_back"
    reason: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("reason", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


Event = Annotated[
    Claim
    | SubmitAssessment
    | Decide
    | AskRequester
    | RequesterReplied
    | RequesterIdentified
    | Cancel
    | PublishSop
    | EditDraft
    | SendBack,
    Field(discriminator="kind"),
]

EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True)
class Outcome:
    """The state after an event, and what happened, in order."""

    state: RequestState
    notices: tuple[Notice, ...]


def begin(key: str, requester: Person, route: Route, rules: Rules, now: datetime) -> RequestState:
    """The state of a freshly routed request: in EXPERT_REVIEW, sign-off teams snapshotted."""
    teams = [route.expert_team, *(s.team for s in route.signoff)]
    if route.sop_owner_team is not None:
        teams.append(route.sop_owner_team)
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
        sop_owner_team=route.sop_owner_team,
    )


def apply(
    state: RequestState,
    event: Event,
    rules: Rules,
    delegations: Iterable[DelegationLike],
    now: datetime,
    *,
    sops: Mapping[str, SopVersion] | None = None,
) -> Outcome:
    """Apply one event; raise InvalidTransition or NotEntitled (state untouched) if refused.

    `sops` is the registry's latest version of each SOP the request names (see the module
    docstring); the caller reads it under the same lock it applies the event under.
    """
    if event.event_id in state.processed:
        return Outcome(state=state, notices=())
    if state.stage in TERMINAL:
        raise InvalidTransition(f"{state.key} is {state.stage}: it takes no more events")
    step = _Step(state=state, rules=rules, delegations=tuple(delegations), now=now, sops=sops)
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
        case RequesterIdentified():
            step.identify(event)
        case Cancel():
            step.cancel(event)
        case PublishSop():
            step.publish(event)
        case EditDraft():
            step.edit(event)
        case SendBack():
            step.send_back(event)
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
        sops: Mapping[str, SopVersion] | None = None,
    ) -> None:
        self.state = state
        self.rules = rules
        self.delegations = delegations
        self.now = now
        self.sops = sops
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
                drafts, undrafted, problems = self.drafts_for(assessment)
                if problems:
                    self.update(assessment=assessment)
                    self.notices.append(DraftRefused(assessment=assessment, problems=problems))
                    return
                number = self.state.round + 1
                self.update(
                    assessment=assessment,
                    round=number,
                    drafts=drafts,
                    undrafted=undrafted,
                    conflicts=(),
                    published=(),
                )
                self.notices.append(AssessmentRecorded(assessment=assessment, round=number))
                self.notices += [
                    DraftPrepared(
                        sop_id=d.sop_id,
                        base_version=d.base_version,
                        content_hash=d.content_hash,
                        diff=d.diff(),
                        round=number,
                    )
                    for d in drafts
                ]
                self.notices += [
                    DraftUnavailable(
                        sop_id=sop,
                        reason=f"{sop} is not in the SOP registry, so there is no version to "
                        "draft the change against and govflow cannot publish it",
                    )
                    for sop in undrafted
                ]
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
            approved_hashes=state.draft_hashes,
        )
        self.update(decisions=(*state.decisions, decision))
        counted = self.progress(signoff)
        after = counted.state
        self.notices.append(
            DecisionRecorded(decision=decision, team_state_after=after, progress=counted.text)
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

    def progress(self, signoff: SignoffTeam) -> TeamProgress:
        """Where `signoff`'s team stands in the current round."""
        counted = self.state.team_progress(self.rules, signoff.team)
        assert counted is not None, "a routed sign-off team always has progress"
        return counted

    def team_approved(self, signoff: SignoffTeam) -> bool:
        """Whether `signoff`'s team reached quorum in the current round."""
        return self.progress(signoff).done

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

    def identify(self, event: RequesterIdentified) -> None:
        """Give the requester their Slack id; settle teams that only waited for them."""
        requester = self.state.requester
        if not same_person(event.actor, GOVFLOW):
            raise NotEntitled("only govflow matches a requester to a Slack user")
        if requester.slack_id is not None or requester.email != event.email.strip().casefold():
            # Already known, or the ticket's requester changed since the look-up.
            return
        self.update(requester=requester.model_copy(update={"slack_id": event.slack_id}))
        self.notices.append(RequesterMatched(slack_id=event.slack_id))
        if self.state.stage is not Stage.SIGN_OFF:
            return
        newly = [
            s
            for s in self.state.signoff
            if self.team_approved(s) and not self.approved_without(s, requester)
        ]
        for signoff in newly:
            self.notices.append(TeamSignedOff(team=signoff.team, round=self.state.round))
        if newly and all(self.team_approved(s) for s in self.state.signoff):
            self.complete_round()

    def approved_without(self, signoff: SignoffTeam, requester: Person) -> bool:
        """Whether `signoff`'s team was at quorum with `requester` still on its roster."""
        roster = eligible_roster(self.rules, signoff.team, requester)
        mine = [d for d in self.state.round_decisions() if d.team == signoff.team]
        return tally(signoff.team, signoff.quorum, roster, mine).state is TeamState.APPROVED

    def cancel(self, event: Cancel) -> None:
        """End the request, whatever stage it is in."""
        acting = self.authorize(event, Action.CANCEL)
        self.notices.append(Cancelled(by=acting.actor, reason=event.reason))
        self.move(Stage.CANCELLED, f"{acting.actor.label} cancelled it: {event.reason}")
        self.update(resume_stage=None, question=None)

    def drafts_for(
        self, assessment: Assessment
    ) -> tuple[tuple[SopDraft, ...], tuple[str, ...], tuple[str, ...]]:
        """The drafts of a PROCEED, the SOPs the registry lacks, and why a change misfits."""
        if self.sops is None:
            return (), (), ()
        try:
            change = parse_proposed_change(assessment.proposed_change)
        except ProposedChangeInvalid as exc:
            return (), (), tuple(p.render() for p in exc.problems)
        drafts: list[SopDraft] = []
        undrafted: list[str] = []
        problems: list[str] = []
        for sop in assessment.affected_sops:
            latest = self.sops.get(sop)
            if latest is None:
                undrafted.append(sop)
                continue
            try:
                drafts.append(SopDraft.on(latest, draft_from_change(latest, change)))
            except ProposedChangeInvalid as exc:
                problems += [f"{sop} v{latest.version}: {p.render()}" for p in exc.problems]
        return tuple(drafts), tuple(undrafted), tuple(problems)

    def publish(self, event: PublishSop) -> None:
        """Publish every draft, or rebase and ask again, or stop at a conflict."""
        acting = self.authorize(event, Action.PUBLISH_SOP, team=self.state.owner_team)
        state = self.state
        if state.undrafted:
            raise InvalidTransition(
                f"{', '.join(state.undrafted)} had no draft: the SOP registry did not hold it "
                f"when {state.key} was assessed. Send the request back once it is imported"
            )
        if not state.drafts:
            raise InvalidTransition(
                f"{state.key} has no SOP draft to publish; send it back to the expert"
            )
        if state.conflicts:
            raise InvalidTransition(
                f"{', '.join(c.sop_id for c in state.conflicts)} clashes with a newer version: "
                "edit the draft to reconcile it, or send the request back"
            )
        if self.sops is None:
            return
        approvals = [d for d in state.round_decisions() if d.verdict is Verdict.APPROVE]
        if any(d.approved_hashes != state.draft_hashes for d in approvals):
            self.reopen_signoff(f"the SOP drafts changed after round {state.round} was approved")
            return
        ready: list[tuple[SopDraft, SopVersion]] = []
        drafts: list[SopDraft] = []
        rebased: list[tuple[SopDraft, SopDraft]] = []
        conflicts: list[SopConflict] = []
        for draft in state.drafts:
            latest = self.latest(draft)
            drafts.append(draft)
            if latest.version == draft.base_version:
                ready.append((draft, latest))
                continue
            result = rebase(draft.text, draft.base_text, latest.text)
            if isinstance(result, Conflict) or result.content_hash == latest.content_hash:
                conflicts.append(_conflict(draft, latest, result))
                continue
            moved = SopDraft(
                sop_id=draft.sop_id,
                base_version=latest.version,
                base_hash=latest.content_hash,
                base_text=latest.text,
                text=result.text,
                kind=draft.kind,
                sections=draft.sections,
            )
            drafts[-1] = moved
            rebased.append((draft, moved))
        if conflicts or rebased:
            self.update(drafts=tuple(drafts), conflicts=tuple(conflicts))
            self.notices += [
                DraftRebased(
                    sop_id=new.sop_id,
                    from_version=old.base_version,
                    onto_version=new.base_version,
                    content_hash=new.content_hash,
                    diff=new.diff(),
                )
                for old, new in rebased
            ]
            self.notices += [
                PublishConflict(
                    sop_id=c.sop_id,
                    base_version=c.base_version,
                    current_version=c.current_version,
                    conflict=c.conflict,
                )
                for c in conflicts
            ]
            if not conflicts:
                onto = ", ".join(f"{new.sop_id} v{new.base_version}" for _, new in rebased)
                self.reopen_signoff(
                    f"another request published {onto} meanwhile; the drafts were rebased onto "
                    "it, and the combined text needs approval"
                )
            return
        effective = self.effective_date(event, [latest for _, latest in ready])
        versions = tuple(
            PublishedVersion(
                sop_id=draft.sop_id, version=latest.version + 1, effective_date=effective
            )
            for draft, latest in ready
        )
        self.update(published=versions)
        self.notices += [
            SopPublished(
                by=acting.actor,
                sop_id=draft.sop_id,
                version=version.version,
                based_on_version=latest.version,
                effective_date=effective,
                content_hash=draft.content_hash,
                diff=draft.diff(),
            )
            for (draft, latest), version in zip(ready, versions, strict=True)
        ]
        refs = ", ".join(f"{v.sop_id} v{v.version}" for v in versions)
        self.move(Stage.DONE, f"{acting.actor.label} published {refs}, effective {effective}")

    def latest(self, draft: SopDraft) -> SopVersion:
        """The registry's latest version of the draft's SOP; refused if it cannot be built on."""
        assert self.sops is not None
        latest = self.sops.get(draft.sop_id)
        if latest is None:
            raise InvalidTransition(f"{draft.sop_id} is no longer in the SOP registry")
        same = latest.version == draft.base_version
        if latest.version < draft.base_version or (same and latest.content_hash != draft.base_hash):
            # The registry only ever adds versions; this is a different registry or a bug.
            raise InvalidTransition(
                f"{draft.sop_id} v{latest.version} in the registry is not the version the "
                f"draft was built on (v{draft.base_version})"
            )
        return latest

    def effective_date(self, event: PublishSop, latest: list[SopVersion]) -> date:
        """The owner's date, or today in their calendar; never before what the registry allows."""
        floor = max([self.now.astimezone(UTC).date(), *(v.effective_date for v in latest)])
        if event.effective_date is None:
            return max(local_date(self.rules, self.state.owner_team, self.now), floor)
        if event.effective_date < floor:
            raise InvalidTransition(
                f"the effective date {event.effective_date} is before {floor}, the earliest "
                "date these versions can take effect"
            )
        return event.effective_date

    def edit(self, event: EditDraft) -> None:
        """Revise one draft; once no conflict is left, sign-off starts again on the new text."""
        acting = self.authorize(event, Action.EDIT_SOP, team=self.state.owner_team)
        state = self.state
        sop = event.sop_id
        draft = state.draft(sop)
        if draft is None:
            raise InvalidTransition(f"{state.key} has no draft of {sop}")
        conflict = state.conflict(sop)
        try:
            if conflict is None:
                text = revise_text(draft.text, event.change, what=f"the draft of {sop}")
                base = (draft.base_version, draft.base_hash, draft.base_text)
            else:
                # A conflict is resolved on the newer version: the edit says how ours reads there.
                where = f"{sop} v{conflict.current_version}"
                text = revise_text(conflict.current_text, event.change, what=where)
                base = (conflict.current_version, conflict.current_hash, conflict.current_text)
        except ProposedChangeInvalid as exc:
            problems = "; ".join(p.render() for p in exc.problems)
            raise InvalidTransition(f"The edit does not apply to {sop}: {problems}") from exc
        revised = SopDraft(
            sop_id=sop,
            base_version=base[0],
            base_hash=base[1],
            base_text=base[2],
            text=text,
            kind=draft.kind,
            sections=draft.sections,
        )
        left = tuple(c for c in state.conflicts if c.sop_id != sop)
        drafts = tuple(revised if d.sop_id == sop else d for d in state.drafts)
        self.update(drafts=drafts, conflicts=left)
        self.notices.append(
            DraftEdited(
                by=acting.actor,
                sop_id=sop,
                base_version=revised.base_version,
                previous_hash=draft.content_hash,
                content_hash=revised.content_hash,
                diff=revised.diff(),
            )
        )
        if not left:
            self.reopen_signoff(
                f"{acting.actor.label} edited the draft of {sop} after sign-off; the approvals "
                "were given to the previous text"
            )

    def send_back(self, event: SendBack) -> None:
        """Return the request to expert review with the owner team's reason."""
        owner = self.state.owner_team
        acting = self.authorize(event, Action.SEND_BACK_SOP, team=owner)
        self.notices.append(SentBack(by=acting.actor, team=owner, reason=event.reason))
        self.update(conflicts=())
        who = acting.actor.label
        self.move(Stage.EXPERT_REVIEW, f"{who} sent the SOP update back: {event.reason}")

    def reopen_signoff(self, reason: str) -> None:
        """The approved text changed: a fresh sign-off round on the drafts as they are now."""
        old = self.state.round
        number = old + 1
        self.notices.append(SignoffInvalidated(round=old, reason=reason))
        self.update(round=number, conflicts=())
        self.move(Stage.SIGN_OFF, f"sign-off round {number}: {reason}")
        self.notices.append(SignoffOpened(round=number, teams=self.state.signoff))
        if not self.state.signoff:
            self.complete_round()


def _conflict(draft: SopDraft, latest: SopVersion, result: object) -> SopConflict:
    """The conflict record of a draft that cannot be replayed on `latest`."""
    if isinstance(result, Conflict):
        text = result.render()
    else:
        # The newer version already reads as the draft would make it: nothing of ours is left.
        text = (
            f"{draft.sop_id} v{latest.version} already contains this change; there is nothing "
            "left to publish"
        )
    return SopConflict(
        sop_id=draft.sop_id,
        base_version=draft.base_version,
        current_version=latest.version,
        current_hash=latest.content_hash,
        current_text=latest.text,
        conflict=text,
    )
