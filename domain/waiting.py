"""Who holds a request: the one answer cards, `/govflow status`, the board and run tags show.

`RequestState.waiting_on(rules)` builds a `WaitingOn` from the stage table's `turn`; each
surface words it its own way but never works it out again. `TeamProgress` is where one
sign-off team stands in the current round, counted once here instead of beside every card.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.people import Person
from domain.signoff import Tally, TeamState, progress_words
from domain.stages import Stage, Turn

# What a surface shows where nobody holds the request.
NOBODY = "—"


@dataclass(frozen=True)
class TeamProgress:
    """One sign-off team in the current round: approvals so far against those it needs."""

    team: str
    name: str
    round: int
    state: TeamState
    approvals: int
    required: int
    members: int  # its roster without the requester

    @classmethod
    def of(cls, team: str, name: str, round: int, counted: Tally, members: int) -> TeamProgress:
        """The progress of `team` from its tally."""
        return cls(
            team=team,
            name=name,
            round=round,
            state=counted.state,
            approvals=counted.approvals,
            required=counted.required,
            members=members,
        )

    @property
    def done(self) -> bool:
        """Whether the team reached its quorum this round."""
        return self.state is TeamState.APPROVED

    @property
    def text(self) -> str:
        """A short progress line, e.g. "1 of 2 approvals" or "0 of 1 approval, rejected"."""
        return progress_words(self.state, self.approvals, self.required)


@dataclass(frozen=True)
class WaitingOn:
    """Whose move a request waits for, and where every sign-off team stands."""

    stage: Stage
    turn: Turn
    teams: tuple[str, ...]  # the teams whose move it is, by rules key
    names: tuple[str, ...]  # the same teams by display name
    person: Person | None  # the one person it waits on: the assignee, or the requester
    signoff: tuple[TeamProgress, ...]

    @property
    def tag(self) -> str:
        """The holder as rules keys, comma-separated, for run tags and logs."""
        if self.teams:
            return ",".join(self.teams)
        return self.turn.value

    @property
    def label(self) -> str:
        """The holder in a few words for a card or the board."""
        person = self.person.label if self.person is not None else None
        teams = ", ".join(self.names)
        match self.turn:
            case Turn.EXPERTS:
                return person or f"{teams} (unclaimed)"
            case Turn.SIGNOFF:
                return teams or NOBODY
            case Turn.REQUESTER:
                return f"{person} (to answer a question)"
            case Turn.SOP_OWNER:
                return f"{person or teams} (SOP update)"
            case Turn.GOVFLOW:
                return "govflow (triage)"
            case _:
                return NOBODY
