"""One request's lifecycle state: what the ledger stores, and who holds the request now.

`domain.lifecycle.apply` is what changes it; this module only says what a state is and what
can be read from it (`waiting_on`, each sign-off team's progress, the drafts).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.assessment import Assessment
from domain.notices import PublishedVersion
from domain.people import Person
from domain.rules import RejectOutcome, Rules
from domain.signoff import Decision, SignoffTeam, tally
from domain.sla import UtcDateTime
from domain.sop import SopVersion, content_hash
from domain.sop_draft import Draft
from domain.sop_merge import render_diff
from domain.stages import STAGES, TERMINAL, TRANSITIONS, Stage, Turn
from domain.teams import eligible_roster, team_label
from domain.waiting import TeamProgress, WaitingOn

# The stages a NEEDS_INFO pause can return to.
RESUMABLE = TRANSITIONS[Stage.NEEDS_INFO] - TERMINAL


class Question(BaseModel):
    """The question the request waits on, who asked it and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    asked_by: Person
    asked_at: UtcDateTime


class SopDraft(Draft):
    """A draft as the request carries it, with its base version's text for diffs and rebases."""

    base_text: str

    @model_validator(mode="after")
    def _base_bound(self) -> SopDraft:
        if content_hash(self.base_text) != self.base_hash:
            raise ValueError("base_hash does not match the base text")
        return self

    @classmethod
    def on(cls, base: SopVersion, draft: Draft) -> SopDraft:
        """`draft` with the text of `base`, the version it was built on."""
        return cls(**draft.model_dump(), base_text=base.text)

    def diff(self) -> str:
        """The full unified diff from the base version to the draft."""
        label = f"{self.sop_id} v{self.base_version}"
        return render_diff(self.base_text, self.text, a_label=label, b_label="draft").text


class SopConflict(BaseModel):
    """A draft that clashes with a version published since its base, kept for the owner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sop_id: str
    base_version: int
    current_version: int
    current_hash: str
    current_text: str
    conflict: str


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
    sop_owner_team: str | None = None
    drafts: tuple[SopDraft, ...] = ()
    undrafted: tuple[str, ...] = ()
    conflicts: tuple[SopConflict, ...] = ()
    published: tuple[PublishedVersion, ...] = ()

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

    @property
    def owner_team(self) -> str:
        """The team that publishes the SOP update: the route's SOP owner, else the experts."""
        return self.sop_owner_team or self.expert_team

    def team_progress(self, rules: Rules, team: str) -> TeamProgress | None:
        """Where `team` stands in the current round; None if it does not sign off."""
        signoff = self.signoff_team(team)
        if signoff is None:
            return None
        roster = eligible_roster(rules, team, self.requester)
        mine = [d for d in self.round_decisions() if d.team == team]
        counted = tally(team, signoff.quorum, roster, mine)
        return TeamProgress.of(team, team_label(rules, team), self.round, counted, len(roster))

    def waiting_on(self, rules: Rules, *, at: Stage | None = None) -> WaitingOn:
        """Who holds the request now (or would at stage `at`): the one answer every surface shows.

        Whose turn it is comes from the stage table; SLA clocks run for the teams named here.
        """
        stage = at or self.stage
        progress = tuple(p for s in self.signoff if (p := self.team_progress(rules, s.team)))
        turn = STAGES[stage].turn
        teams: tuple[str, ...] = ()
        person: Person | None = None
        match turn:
            case Turn.EXPERTS:
                teams, person = (self.expert_team,), self.assignee
            case Turn.SIGNOFF:
                teams = tuple(p.team for p in progress if not p.done)
            case Turn.REQUESTER:
                person = self.requester
            case Turn.SOP_OWNER:
                teams = (self.owner_team,)
                # The assignee is an expert: theirs to prepare only when the experts own the SOP.
                person = self.assignee if self.owner_team == self.expert_team else None
        names = tuple(team_label(rules, t) for t in teams)
        return WaitingOn(stage, turn, teams, names, person, progress)

    @property
    def draft_hashes(self) -> tuple[str, ...]:
        """The content hashes of the drafts, in order: what a sign-off decision approves."""
        return tuple(d.content_hash for d in self.drafts)

    def draft(self, sop_id: str) -> SopDraft | None:
        """The draft of `sop_id`, if the request has one."""
        return next((d for d in self.drafts if d.sop_id == sop_id), None)

    def conflict(self, sop_id: str) -> SopConflict | None:
        """The unresolved conflict of `sop_id`'s draft, if any."""
        return next((c for c in self.conflicts if c.sop_id == sop_id), None)
