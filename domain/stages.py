"""The request lifecycle: stages and the transition table that links them."""

from __future__ import annotations

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


TERMINAL: frozenset[Stage] = frozenset({Stage.DONE, Stage.REJECTED, Stage.CANCELLED})

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
