"""What happened when an event was applied, for the integration layer to render and deliver.

Notices are facts, not messages: the Slack and Jira mappers decide wording and audience. They
are frozen pydantic models with a `kind`, so the advance flow can store them in outbox rows
and read them back (`NOTICES.validate_python(row.payload)`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from domain.assessment import Assessment
from domain.people import Person
from domain.signoff import Decision, SignoffTeam, TeamState
from domain.sla import BREACH
from domain.stages import Stage


class _Notice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageChanged(_Notice):
    """The request moved from one stage to another, and why, in a sentence."""

    kind: Literal["stage_changed"] = "stage_changed"
    from_stage: Stage
    to_stage: Stage
    reason: str


class Claimed(_Notice):
    """An expert took the request; `previous` is whom they took it from."""

    kind: Literal["claimed"] = "claimed"
    by: Person
    previous: Person | None = None
    on_behalf_of: Person | None = None


class AssessmentRecorded(_Notice):
    """The expert's assessment, and the sign-off round it belongs to (or would open)."""

    kind: Literal["assessment_recorded"] = "assessment_recorded"
    assessment: Assessment
    round: int


class SignoffOpened(_Notice):
    """A sign-off round began: these teams must now reach their quorum."""

    kind: Literal["signoff_opened"] = "signoff_opened"
    round: int
    teams: tuple[SignoffTeam, ...]


class DecisionRecorded(_Notice):
    """A sign-off click counted; where its team stands now ("1 of 2 approvals")."""

    kind: Literal["decision_recorded"] = "decision_recorded"
    decision: Decision
    team_state_after: TeamState
    progress: str


class TeamSignedOff(_Notice):
    """A team reached its quorum in this round."""

    kind: Literal["team_signed_off"] = "team_signed_off"
    team: str
    round: int


class SignoffComplete(_Notice):
    """Every team of the round approved; the change goes to its SOP update."""

    kind: Literal["signoff_complete"] = "signoff_complete"
    round: int


class Rejected(_Notice):
    """Someone rejected the request: a sign-off team, or the expert team in its assessment.

    `ends_request` tells the requester-facing side whether this is the final answer or the
    request went back to the expert (`on_reject: return_to_expert`).
    """

    kind: Literal["rejected"] = "rejected"
    by: Person
    reason: str
    team: str
    ends_request: bool


class ChangesRequested(_Notice):
    """A sign-off team sent the assessment back to the expert with feedback."""

    kind: Literal["changes_requested"] = "changes_requested"
    by: Person
    team: str
    feedback: str


class InfoRequested(_Notice):
    """The requester was asked a question; the request waits, then resumes `resume_stage`."""

    kind: Literal["info_requested"] = "info_requested"
    by: Person
    question: str
    resume_stage: Stage


class InfoReceived(_Notice):
    """A comment arrived while waiting; only the requester's own answer resumes the request."""

    kind: Literal["info_received"] = "info_received"
    by: Person
    body: str
    comment_id: str
    resumed: bool


class RequesterMatched(_Notice):
    """govflow learned the requester's Slack id: rosters naming it now leave them out."""

    kind: Literal["requester_matched"] = "requester_matched"
    slack_id: str


class Cancelled(_Notice):
    """The request was cancelled, by whom and why."""

    kind: Literal["cancelled"] = "cancelled"
    by: Person
    reason: str


class DraftRefused(_Notice):
    """A PROCEED assessment whose change does not apply to the SOPs as the registry has them."""

    kind: Literal["draft_refused"] = "draft_refused"
    assessment: Assessment
    problems: tuple[str, ...]


class DraftPrepared(_Notice):
    """The draft of one SOP that the round's approvers sign off: base version and full diff."""

    kind: Literal["draft_prepared"] = "draft_prepared"
    sop_id: str
    base_version: int
    content_hash: str
    diff: str
    round: int


class DraftUnavailable(_Notice):
    """An affected SOP the registry does not hold: sign-off goes on, publication cannot."""

    kind: Literal["draft_unavailable"] = "draft_unavailable"
    sop_id: str
    reason: str


class DraftEdited(_Notice):
    """The SOP owner changed a draft after sign-off; its approvals no longer hold."""

    kind: Literal["draft_edited"] = "draft_edited"
    by: Person
    sop_id: str
    base_version: int
    previous_hash: str
    content_hash: str
    diff: str


class DraftRebased(_Notice):
    """Another request published the SOP meanwhile; the draft was replayed on that version."""

    kind: Literal["draft_rebased"] = "draft_rebased"
    sop_id: str
    from_version: int
    onto_version: int
    content_hash: str
    diff: str


class SignoffInvalidated(_Notice):
    """The approvals of `round` were given to a text that changed; sign-off starts again."""

    kind: Literal["signoff_invalidated"] = "signoff_invalidated"
    round: int
    reason: str


class PublishConflict(_Notice):
    """The SOP moved on and the draft clashes with the newer version: the owner reconciles."""

    kind: Literal["publish_conflict"] = "publish_conflict"
    sop_id: str
    base_version: int
    current_version: int
    conflict: str


class SentBack(_Notice):
    """The SOP owner team sent the request back to expert review, and why."""

    kind: Literal["sent_back"] = "sent_back"
    by: Person
    team: str
    reason: str


class PublishedVersion(BaseModel):
    """One SOP version a request published, and when it takes effect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sop_id: str
    version: int
    effective_date: date


class SopPublished(_Notice):
    """A draft became a new version of its SOP."""

    kind: Literal["sop_published"] = "sop_published"
    by: Person
    sop_id: str
    version: int
    based_on_version: int
    effective_date: date
    content_hash: str
    diff: str


class SlaThresholdReached(_Notice):
    """A team's SLA clock on a step reached one of its thresholds (1.0 and over: breached).

    The watchdog says this, not `apply`, so it stands outside `Notice`. `fraction` is the
    share of the target used; `due` is the due time on the team's wall clock (None while the
    clock is paused).
    """

    kind: Literal["sla_threshold_reached"] = "sla_threshold_reached"
    jira_key: str
    team: str
    stage: Stage
    round: int
    target: str
    fraction: float
    due: datetime | None

    @property
    def breached(self) -> bool:
        """Whether the step is overdue, not merely close to it."""
        return self.fraction >= BREACH


Notice = Annotated[
    StageChanged
    | Claimed
    | AssessmentRecorded
    | SignoffOpened
    | DecisionRecorded
    | TeamSignedOff
    | SignoffComplete
    | Rejected
    | ChangesRequested
    | InfoRequested
    | InfoReceived
    | RequesterMatched
    | Cancelled
    | DraftRefused
    | DraftPrepared
    | DraftUnavailable
    | DraftEdited
    | DraftRebased
    | SignoffInvalidated
    | PublishConflict
    | SentBack
    | SopPublished,
    Field(discriminator="kind"),
]

NOTICES: TypeAdapter[Notice] = TypeAdapter(Notice)
