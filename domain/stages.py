"""The request lifecycle: stages, what each one means, and the transition table that links them.

`STAGES` is the one declaration per stage: its words (a label for cards and boards, a noun
for sentences about clocks, a predicate for "MODREQ-12 is ..."), whether its work runs on an
SLA clock, and whose turn it is there. Everything that shows or times a stage reads it, so a
new stage is declared here and in `TRANSITIONS`, and nowhere else says what it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidTransition


class Stage(StrEnum):
    """Where a request stands in its lifecycle."""

    RECEIVED = "RECEIVED"
    NEEDS_INFO = "NEEDS_INFO"
    EXPERT_REVIEW = "EXPERT_REVIEW"
    SIGN_OFF = "SIGN_OFF"
    SOP_UPDATE = "SOP_UPDATE"
    DONE = "DONE"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Turn(StrEnum):
    """Whose move a stage waits for."""

    GOVFLOW = "govflow"  # triage: nobody has to act
    EXPERTS = "experts"  # the route's expert team (the assignee once claimed)
    SIGNOFF = "signoff"  # the sign-off teams not yet at quorum
    REQUESTER = "requester"  # an answer on Jira
    SOP_OWNER = "sop_owner"  # the route's SOP owner team, else the expert team
    NOBODY = "nobody"  # a final stage


@dataclass(frozen=True)
class StageInfo:
    """What one stage means: its words, whether it is timed, whose turn it is."""

    label: str  # a card's or board's heading: "Stakeholder sign-off"
    noun: str  # inside a sentence: "the sign-off clock"
    words: str  # after "MODREQ-12 is": "in sign-off"
    timed: bool  # its work runs on an SLA clock, so every policy needs targets for it
    turn: Turn


STAGES: dict[Stage, StageInfo] = {
    Stage.RECEIVED: StageInfo("Received", "triage", "not triaged yet", False, Turn.GOVFLOW),
    Stage.NEEDS_INFO: StageInfo(
        "Waiting on requester",
        "question to the requester",
        "waiting for the requester's answer",
        False,
        Turn.REQUESTER,
    ),
    Stage.EXPERT_REVIEW: StageInfo(
        "Expert review", "expert review", "in expert review", True, Turn.EXPERTS
    ),
    Stage.SIGN_OFF: StageInfo(
        "Stakeholder sign-off", "sign-off", "in sign-off", True, Turn.SIGNOFF
    ),
    Stage.SOP_UPDATE: StageInfo(
        "SOP update",
        "SOP update",
        "approved and waiting for its SOP update",
        True,
        Turn.SOP_OWNER,
    ),
    Stage.DONE: StageInfo("Done", "done", "done", False, Turn.NOBODY),
    Stage.REJECTED: StageInfo("Rejected", "rejection", "rejected", False, Turn.NOBODY),
    Stage.CANCELLED: StageInfo("Cancelled", "cancellation", "cancelled", False, Turn.NOBODY),
}
# Stages whose work runs on an SLA clock, in lifecycle order.
TIMED_STAGES: tuple[Stage, ...] = tuple(s for s, info in STAGES.items() if info.timed)


def stage_info(stage: Stage | str) -> StageInfo | None:
    """The declaration of `stage` (a member or its value); None for a name no stage has."""
    try:
        return STAGES[Stage(stage)]
    except ValueError:
        return None


def stage_label(stage: Stage | str) -> str:
    """The heading of `stage` for cards and boards; an unknown name as it is."""
    info = stage_info(stage)
    return info.label if info is not None else str(stage)


# The final stages: nobody's turn, nothing left to do.
TERMINAL: frozenset[Stage] = frozenset(s for s, info in STAGES.items() if info.turn is Turn.NOBODY)

# Any open stage may ask the requester (NEEDS_INFO) and may be cancelled; NEEDS_INFO returns
# to the stage that asked, which the ledger remembers as `resume_stage`.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.RECEIVED: frozenset({Stage.EXPERT_REVIEW, Stage.NEEDS_INFO, Stage.CANCELLED}),
    Stage.NEEDS_INFO: frozenset(
        {Stage.RECEIVED, Stage.EXPERT_REVIEW, Stage.SIGN_OFF, Stage.SOP_UPDATE, Stage.CANCELLED}
    ),
    Stage.EXPERT_REVIEW: frozenset(
        {Stage.SIGN_OFF, Stage.NEEDS_INFO, Stage.REJECTED, Stage.CANCELLED}
    ),
    Stage.SIGN_OFF: frozenset(
        {Stage.SOP_UPDATE, Stage.EXPERT_REVIEW, Stage.NEEDS_INFO, Stage.REJECTED, Stage.CANCELLED}
    ),
    Stage.SOP_UPDATE: frozenset(
        {Stage.DONE, Stage.SIGN_OFF, Stage.EXPERT_REVIEW, Stage.NEEDS_INFO, Stage.CANCELLED}
    ),
    Stage.DONE: frozenset(),
    Stage.REJECTED: frozenset(),
    Stage.CANCELLED: frozenset(),
}


def check_transition(current: Stage, target: Stage) -> None:
    """Raise InvalidTransition unless the table allows `current` -> `target`."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a request in {current} cannot move to {target}")
