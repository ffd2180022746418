"""Sign-off decisions and quorum: where one team stands in one sign-off round.

A decision counts for a roster *member*: the approver who clicked, or the away member a
delegate stood in for (`on_behalf_of`). Members are counted by roster entry, so two clicks
by one member, or a member and their delegate, count once. Decisions by people who are not
(or no longer) on the roster count for nothing: quorum is judged against the roster the
caller passes, which for the lifecycle is today's roster without the requester.

Decisions are read in the order they were recorded and the first decisive one wins: a
rejection, a request for changes, or the approval that reaches quorum. Nothing after it in
the same round changes the team's state (entitlement refuses such clicks anyway; this keeps
the answer stable should one slip through).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.people import Person, matches_entry, roster_member
from domain.rules import Quorum, QuorumKind
from domain.sla import UtcDateTime


class Verdict(StrEnum):
    """What an approver decided."""

    APPROVE = "APPROVE"
    REJECT = "REJECT"
    REQUEST_CHANGES = "REQUEST_CHANGES"


class TeamState(StrEnum):
    """Where one team stands in one sign-off round."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"


class SignoffTeam(BaseModel):
    """A team whose sign-off the request needs, with its quorum as routed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str
    quorum: Quorum


class Decision(BaseModel):
    """One recorded click: who clicked, for whom, in which round and team, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    round: int = Field(ge=1)
    team: str
    approver: Person
    on_behalf_of: Person | None = None
    verdict: Verdict
    reason: str = ""
    at: UtcDateTime
    event_id: str = Field(min_length=1)
    # The content hashes of the SOP drafts on the card, in draft order: what was approved.
    approved_hashes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _reasoned(self) -> Decision:
        if self.verdict is not Verdict.APPROVE and not self.reason.strip():
            raise ValueError(f"a {self.verdict} decision needs a reason")
        return self

    @property
    def member(self) -> Person:
        """The roster member this decision counts for."""
        return self.on_behalf_of or self.approver


@dataclass(frozen=True)
class Tally:
    """A team's state in a round, with the approvals counted towards its quorum."""

    state: TeamState
    approvals: int
    required: int
    decisive: Decision | None


def required_approvals(quorum: Quorum, roster: Sequence[str]) -> int:
    """How many distinct members must approve; never fewer than one."""
    # An empty roster must not make a team approved before anyone has looked at the change.
    if quorum.kind is QuorumKind.ALL:
        return max(1, len(roster))
    if quorum.kind is QuorumKind.N_OF:
        return max(1, quorum.n or 1)
    return 1


def tally(team: str, quorum: Quorum, roster: Sequence[str], decisions: Iterable[Decision]) -> Tally:
    """Count `team`'s decisions (of one round) against its quorum and roster."""
    required = required_approvals(quorum, roster)
    members: set[str] = set()
    covered: set[str] = set()
    for decision in decisions:
        entry = roster_member(decision.member, roster) if decision.team == team else None
        if entry is None:
            continue
        if decision.verdict is Verdict.REJECT:
            return Tally(TeamState.REJECTED, _count(quorum, members, covered), required, decision)
        if decision.verdict is Verdict.REQUEST_CHANGES:
            state = TeamState.CHANGES_REQUESTED
            return Tally(state, _count(quorum, members, covered), required, decision)
        members.add(entry)
        # A human listed twice (Slack id and email) covers both entries for `all`.
        covered.update(e for e in roster if matches_entry(decision.member, e))
        approvals = _count(quorum, members, covered)
        if approvals >= required:
            return Tally(TeamState.APPROVED, approvals, required, decision)
    return Tally(TeamState.PENDING, _count(quorum, members, covered), required, None)


def team_state(
    team: str, quorum: Quorum, roster: Sequence[str], decisions: Iterable[Decision]
) -> TeamState:
    """PENDING, APPROVED, REJECTED or CHANGES_REQUESTED for `team` in one round."""
    return tally(team, quorum, roster, decisions).state


def progress_text(
    team: str, quorum: Quorum, roster: Sequence[str], decisions: Iterable[Decision]
) -> str:
    """A short progress line for a sign-off card, e.g. "1 of 2 approvals"."""
    counted = tally(team, quorum, roster, decisions)
    return progress_words(counted.state, counted.approvals, counted.required)


def progress_words(state: TeamState, approvals: int, required: int) -> str:
    """ "1 of 2 approvals", with ", rejected" or ", changes requested" when it ended so."""
    noun = "approval" if required == 1 else "approvals"
    text = f"{approvals} of {required} {noun}"
    if state is TeamState.REJECTED:
        return f"{text}, rejected"
    if state is TeamState.CHANGES_REQUESTED:
        return f"{text}, changes requested"
    return text


def decision_for(
    entry: str, team: str, roster: Sequence[str], decisions: Iterable[Decision]
) -> Decision | None:
    """The decision already counting for roster `entry` in `team`, if any."""
    return next(
        (
            d
            for d in decisions
            if d.team == team and entry in roster and matches_entry(d.member, entry)
        ),
        None,
    )


def _count(quorum: Quorum, members: set[str], covered: set[str]) -> int:
    return len(covered) if quorum.kind is QuorumKind.ALL else len(members)
