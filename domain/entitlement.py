"""Who may do what to a request, and in whose name; refusals are worded for the person refused.

`authorize` answers with `ActingAs` (the roster entry the actor acts for, and the away member
they stand in for, if any) or raises:
- `InvalidTransition` when the request is not in a stage that takes the action, whoever asks;
- `NotEntitled` when this person may not take it.
Both messages are shown to the clicker as they are, so they say what is wrong in their terms.

Rules:
- Claim, assess and ask: the expert team's roster, or a delegate standing in for a member of
  it on that date. Only the assignee (or their delegate) submits an assessment; another expert
  claims the request first, so two experts never assess one request unknowingly. An unclaimed
  request is claimed by whoever assesses it.
- Ask during SIGN_OFF: also anyone entitled to decide for one of the round's teams.
- Approve, reject, request changes for team T: T is a sign-off team of the request, the
  request is in SIGN_OFF, T is still PENDING in the current round, and the actor is on T's
  roster or a delegate of a T member whose out-of-office covers the date (inclusive). The
  requester never decides on their own request: not directly, not as someone's delegate, and
  nobody decides in the requester's name. Each member decides once per round.
- Cancel: the requester (withdrawing it), the expert team (or a delegate), or a lead of the
  expert team or of a sign-off team.
- Publish, edit the draft of, or send back an SOP update: the request is in SOP_UPDATE and
  the actor is on the SOP owner team's roster (the route's `sop_owner_team`, else the expert
  team) or a delegate of a member on that date. Never the requester: publishing is the last
  word on their own request.

Delegation: a click without `on_behalf_of` counts once per person and round, for the actor
themselves when they are on the roster, else for the first member (roster order) they
currently stand in for who has not decided yet. To cast the vote of an away colleague as well
as their own, a delegate who is also on the roster names that colleague in `on_behalf_of`
(the sign-off card offers a button per delegation); this is what keeps a double click from
turning into a second, delegated approval. Delegations do not chain, and their dates are the
dates of the team's own calendar time zone (`local_date`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

from domain.errors import InvalidTransition, NotEntitled
from domain.people import Person, matches_entry, person_from_entry, roster_member, same_person
from domain.request import RequestState
from domain.rules import OutOfOffice, Rules
from domain.signoff import (
    Decision,
    SignoffTeam,
    TeamState,
    Verdict,
    decision_for,
    required_approvals,
    tally,
)
from domain.stages import STAGES, TERMINAL, Stage
from domain.teams import eligible_roster as eligible_roster
from domain.teams import local_date as local_date
from domain.teams import team_label as team_label


class Action(StrEnum):
    """Something a person asks to do to a request."""

    CLAIM = "claim"
    ASSESS = "assess"
    ASK = "ask"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    CANCEL = "cancel"
    PUBLISH_SOP = "publish_sop"
    EDIT_SOP = "edit_sop"
    SEND_BACK_SOP = "send_back_sop"


SOP_ACTIONS = frozenset({Action.PUBLISH_SOP, Action.EDIT_SOP, Action.SEND_BACK_SOP})

DECISIONS: dict[Verdict, Action] = {
    Verdict.APPROVE: Action.APPROVE,
    Verdict.REJECT: Action.REJECT,
    Verdict.REQUEST_CHANGES: Action.REQUEST_CHANGES,
}

_OPEN = frozenset(Stage) - TERMINAL
_STAGES: dict[Action, frozenset[Stage]] = {
    Action.CLAIM: frozenset(
        {Stage.EXPERT_REVIEW, Stage.SIGN_OFF, Stage.SOP_UPDATE, Stage.NEEDS_INFO}
    ),
    Action.ASSESS: frozenset({Stage.EXPERT_REVIEW}),
    Action.ASK: frozenset({Stage.EXPERT_REVIEW, Stage.SIGN_OFF, Stage.SOP_UPDATE}),
    Action.APPROVE: frozenset({Stage.SIGN_OFF}),
    Action.REJECT: frozenset({Stage.SIGN_OFF}),
    Action.REQUEST_CHANGES: frozenset({Stage.SIGN_OFF}),
    Action.CANCEL: _OPEN,
    Action.PUBLISH_SOP: frozenset({Stage.SOP_UPDATE}),
    Action.EDIT_SOP: frozenset({Stage.SOP_UPDATE}),
    Action.SEND_BACK_SOP: frozenset({Stage.SOP_UPDATE}),
}
_CANNOT: dict[Action, str] = {
    Action.CLAIM: "it cannot be claimed",
    Action.ASSESS: "it takes no assessment",
    Action.ASK: "no question can be put to the requester",
    Action.APPROVE: "it cannot be approved",
    Action.REJECT: "it cannot be rejected",
    Action.REQUEST_CHANGES: "changes cannot be requested",
    Action.CANCEL: "it cannot be cancelled",
    Action.PUBLISH_SOP: "there is no approved SOP change to publish",
    Action.EDIT_SOP: "there is no approved SOP draft to edit",
    Action.SEND_BACK_SOP: "there is no SOP update to send back",
}
_VERB: dict[Action, str] = {
    Action.APPROVE: "approve it",
    Action.REJECT: "reject it",
    Action.REQUEST_CHANGES: "request changes to it",
}
_TEAM_WORDS: dict[TeamState, str] = {
    TeamState.APPROVED: "already signed off",
    TeamState.REJECTED: "already rejected",
    TeamState.CHANGES_REQUESTED: "already asked for changes to",
}
_DECISION_NOUN: dict[Verdict, str] = {
    Verdict.APPROVE: "approval",
    Verdict.REJECT: "rejection",
    Verdict.REQUEST_CHANGES: "request for changes",
}


class Delegation(BaseModel):
    """An away member (`approver`) and who acts for them from `start` to `until` inclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approver: Person
    delegate: Person
    start: date
    until: date

    @model_validator(mode="after")
    def _ordered(self) -> Delegation:
        if self.until < self.start:
            raise ValueError(f"until {self.until} is before start {self.start}")
        return self

    @classmethod
    def from_out_of_office(cls, record: OutOfOffice) -> Delegation:
        """The delegation a config `out_of_office` entry declares."""
        return cls(
            approver=person_from_entry(record.approver),
            delegate=person_from_entry(record.delegate),
            start=record.start,
            until=record.until,
        )

    def covers(self, on: date) -> bool:
        """Whether the delegate may act on `on` (both ends inclusive)."""
        return self.start <= on <= self.until


DelegationLike = Delegation | OutOfOffice


@dataclass(frozen=True)
class ActingAs:
    """Whom an authorized action counts for.

    `team` is the team whose roster entitles the actor (None for the requester cancelling);
    `member` the roster entry the action counts for; `on_behalf_of` the away member a
    delegate stands in for (None when the actor acts as themselves).
    """

    actor: Person
    action: Action
    team: str | None
    member: str | None = None
    on_behalf_of: Person | None = None


def as_delegations(records: Iterable[DelegationLike]) -> list[Delegation]:
    """Config `out_of_office` entries and ledger delegations as one kind of value."""
    return [r if isinstance(r, Delegation) else Delegation.from_out_of_office(r) for r in records]


@dataclass(frozen=True)
class Unreachable:
    """A sign-off team that cannot reach its quorum once the requester is left out."""

    signoff: SignoffTeam
    needed: int
    roster: int
    eligible: int


def unreachable_signoffs(state: RequestState, rules: Rules) -> list[Unreachable]:
    """The request's sign-off teams whose quorum needs more approvers than may decide.

    The requester never decides, in person or through a delegate, so a team of two asking
    `n_of: 2` (or a team of one) can never sign off a request one of its members filed.
    """
    found = []
    for signoff in state.signoff:
        team = rules.teams.get(signoff.team)
        eligible = eligible_roster(rules, signoff.team, state.requester)
        needed = required_approvals(signoff.quorum, eligible)
        if needed > len(eligible):
            roster = len(team.roster) if team is not None else 0
            found.append(Unreachable(signoff, needed, roster, len(eligible)))
    return found


def authorize(
    actor: Person,
    action: Action,
    state: RequestState,
    rules: Rules,
    on: date,
    *,
    delegations: Iterable[DelegationLike] = (),
    team: str | None = None,
    on_behalf_of: Person | None = None,
) -> ActingAs:
    """Whom `actor` acts for in `action` on `state` on date `on`; raise if they may not."""
    allowed = _STAGES[action]
    if state.stage not in allowed:
        raise InvalidTransition(
            f"{state.key} is {STAGES[state.stage].words}, so {_CANNOT[action]} now"
        )
    away = as_delegations(delegations)
    if action in _VERB:
        if team is None:
            raise ValueError(f"{action} needs the team decided for")
        return _as_approver(actor, action, state, rules, on, away, team, on_behalf_of)
    if action is Action.CANCEL:
        return _as_canceller(actor, state, rules, on, away)
    if action in SOP_ACTIONS:
        return _as_sop_owner(actor, action, state, rules, on, away)
    if action is Action.ASK and state.stage is Stage.SIGN_OFF:
        return _as_asker_in_signoff(actor, state, rules, on, away)
    acting = _as_expert(actor, action, state, rules, on, away)
    if action is Action.ASSESS:
        _require_assignee(acting, state)
    return acting


def _as_expert(
    actor: Person,
    action: Action,
    state: RequestState,
    rules: Rules,
    on: date,
    away: Sequence[Delegation],
) -> ActingAs:
    """The actor as a member of the expert team, or a delegate of one (the assignee first)."""
    team = state.expert_team
    found = rules.teams.get(team)
    roster = found.roster if found is not None else []
    entry = roster_member(actor, roster)
    if entry is not None:
        return ActingAs(actor=actor, action=action, team=team, member=entry)
    active, lapsed = _stand_ins(actor, roster, away, on)
    if active:
        assignee = state.assignee
        preferred = [a for a in active if assignee is not None and matches_entry(assignee, a[0])]
        entry, delegation = (preferred or active)[0]
        return ActingAs(
            actor=actor,
            action=action,
            team=team,
            member=entry,
            on_behalf_of=delegation.approver,
        )
    if lapsed:
        raise NotEntitled(_lapsed(lapsed[0][1], on))
    raise NotEntitled(
        f"You are not on the {team_label(rules, team)} roster, which reviews {state.key}"
    )


def _as_sop_owner(
    actor: Person,
    action: Action,
    state: RequestState,
    rules: Rules,
    on: date,
    away: Sequence[Delegation],
) -> ActingAs:
    """The actor as a member of the SOP owner team, or a delegate of one."""
    team = state.owner_team
    name = team_label(rules, team)
    if same_person(actor, state.requester):
        raise NotEntitled(f"You filed {state.key}, so its SOP update is not yours to act on")
    roster = eligible_roster(rules, team, state.requester)
    entry = roster_member(actor, roster)
    if entry is not None:
        return ActingAs(actor=actor, action=action, team=team, member=entry)
    active, lapsed = _stand_ins(actor, roster, away, on)
    if active:
        entry, delegation = active[0]
        return ActingAs(
            actor=actor, action=action, team=team, member=entry, on_behalf_of=delegation.approver
        )
    if lapsed:
        raise NotEntitled(_lapsed(lapsed[0][1], on))
    raise NotEntitled(f"You are not on the {name} roster, which owns the SOPs of {state.key}")


def _require_assignee(acting: ActingAs, state: RequestState) -> None:
    """Only the assignee, or whoever stands in for them, submits the assessment."""
    assignee = state.assignee
    if assignee is None or same_person(assignee, acting.actor):
        return
    if acting.on_behalf_of is not None and same_person(assignee, acting.on_behalf_of):
        return
    raise NotEntitled(
        f"{assignee.label} has claimed {state.key}; claim it yourself first if you are "
        "taking it over"
    )


def _as_asker_in_signoff(
    actor: Person, state: RequestState, rules: Rules, on: date, away: Sequence[Delegation]
) -> ActingAs:
    """During sign-off the experts and every sign-off team may ask the requester."""
    try:
        return _as_expert(actor, Action.ASK, state, rules, on, away)
    except NotEntitled:
        pass
    for signoff in state.signoff:
        roster = eligible_roster(rules, signoff.team, state.requester)
        entry = roster_member(actor, roster)
        if entry is not None:
            return ActingAs(actor=actor, action=Action.ASK, team=signoff.team, member=entry)
        active, _ = _stand_ins(actor, roster, away, on)
        if active:
            entry, delegation = active[0]
            return ActingAs(
                actor=actor,
                action=Action.ASK,
                team=signoff.team,
                member=entry,
                on_behalf_of=delegation.approver,
            )
    raise NotEntitled(
        f"You are neither on the {team_label(rules, state.expert_team)} roster nor on a "
        f"sign-off roster of {state.key}, so you cannot ask its requester"
    )


def _as_canceller(
    actor: Person, state: RequestState, rules: Rules, on: date, away: Sequence[Delegation]
) -> ActingAs:
    """The requester, the experts, or a lead of a team involved may cancel."""
    if same_person(actor, state.requester):
        return ActingAs(actor=actor, action=Action.CANCEL, team=None)
    try:
        return _as_expert(actor, Action.CANCEL, state, rules, on, away)
    except NotEntitled:
        pass
    for team in (state.expert_team, *(s.team for s in state.signoff)):
        found = rules.teams.get(team)
        entry = roster_member(actor, found.leads) if found is not None else None
        if entry is not None:
            return ActingAs(actor=actor, action=Action.CANCEL, team=team, member=entry)
    raise NotEntitled(
        f"Only the requester, {team_label(rules, state.expert_team)} or a lead of a team "
        f"involved can cancel {state.key}"
    )


def _as_approver(
    actor: Person,
    action: Action,
    state: RequestState,
    rules: Rules,
    on: date,
    away: Sequence[Delegation],
    team: str,
    on_behalf_of: Person | None,
) -> ActingAs:
    """The member a sign-off click counts for, or why it counts for nobody."""
    name = team_label(rules, team)
    signoff = next((s for s in state.signoff if s.team == team), None)
    if signoff is None:
        raise NotEntitled(f"{state.key} does not need sign-off from {name}")
    if same_person(actor, state.requester):
        raise NotEntitled(f"You filed {state.key}, so you cannot {_VERB[action]}")
    roster = eligible_roster(rules, team, state.requester)
    decided = [d for d in state.decisions if d.round == state.round and d.team == team]
    current = tally(team, signoff.quorum, roster, decided).state
    if current is not TeamState.PENDING:
        raise NotEntitled(f"{name} has {_TEAM_WORDS[current]} {state.key} in this round")
    if on_behalf_of is not None and not same_person(actor, on_behalf_of):
        return _as_named_delegate(
            actor, action, state, on, away, team, name, roster, decided, on_behalf_of
        )
    entry = roster_member(actor, roster)
    if entry is not None:
        _require_undecided(entry, actor, state, team, name, roster, decided)
        return ActingAs(actor=actor, action=action, team=team, member=entry)
    own = next((d for d in decided if same_person(d.approver, actor)), None)
    if own is not None:
        raise NotEntitled(_already(own, actor, state, name))
    active, lapsed = _stand_ins(actor, roster, away, on)
    open_ = [(e, d) for e, d in active if decision_for(e, team, roster, decided) is None]
    if open_:
        entry, delegation = open_[0]
        return ActingAs(
            actor=actor, action=action, team=team, member=entry, on_behalf_of=delegation.approver
        )
    if active:
        taken = decision_for(active[0][0], team, roster, decided)
        assert taken is not None
        raise NotEntitled(_already(taken, actor, state, name))
    if lapsed:
        raise NotEntitled(_lapsed(lapsed[0][1], on))
    if any(
        same_person(d.delegate, actor) and same_person(d.approver, state.requester) for d in away
    ):
        # The requester is off the roster, so their delegate stands in for nobody: say why.
        raise NotEntitled(
            f"{state.requester.label} filed {state.key}, so nobody can {_VERB[action]} "
            "in their name"
        )
    raise NotEntitled(f"You are not on the {name} approver roster for {state.key}")


def _as_named_delegate(
    actor: Person,
    action: Action,
    state: RequestState,
    on: date,
    away: Sequence[Delegation],
    team: str,
    name: str,
    roster: Sequence[str],
    decided: Sequence[Decision],
    member: Person,
) -> ActingAs:
    """A delegate deciding explicitly in the name of one away member."""
    if same_person(member, state.requester):
        raise NotEntitled(
            f"{member.label} filed {state.key}, so nobody can {_VERB[action]} in their name"
        )
    entry = roster_member(member, roster)
    if entry is None:
        raise NotEntitled(f"{member.label} is not on the {name} approver roster for {state.key}")
    mine = [d for d in away if matches_entry(d.approver, entry) and same_person(d.delegate, actor)]
    if not mine:
        raise NotEntitled(f"You are not {member.label}'s delegate for {name}")
    if not any(d.covers(on) for d in mine):
        raise NotEntitled(_lapsed(mine[0], on))
    _require_undecided(entry, member, state, team, name, roster, decided)
    return ActingAs(actor=actor, action=action, team=team, member=entry, on_behalf_of=member)


def _require_undecided(
    entry: str,
    member: Person,
    state: RequestState,
    team: str,
    name: str,
    roster: Sequence[str],
    decided: Sequence[Decision],
) -> None:
    """Each member decides once per round, whoever clicks for them."""
    taken = decision_for(entry, team, roster, decided)
    if taken is not None:
        raise NotEntitled(_already(taken, member, state, name))


def _stand_ins(
    actor: Person, roster: Sequence[str], away: Sequence[Delegation], on: date
) -> tuple[list[tuple[str, Delegation]], list[tuple[str, Delegation]]]:
    """The roster members `actor` stands in for on `on`, and those whose dates do not cover it."""
    active: list[tuple[str, Delegation]] = []
    lapsed: list[tuple[str, Delegation]] = []
    for entry in roster:
        for delegation in away:
            if not matches_entry(delegation.approver, entry):
                continue
            # Standing in for yourself is no delegation; it must not dodge the double-click rule.
            if not same_person(delegation.delegate, actor) or matches_entry(actor, entry):
                continue
            (active if delegation.covers(on) else lapsed).append((entry, delegation))
    # Two overlapping delegations for one member still make one stand-in.
    first = {entry: (entry, delegation) for entry, delegation in reversed(active)}
    return [first[entry] for entry in dict.fromkeys(e for e, _ in active)], lapsed


def _already(taken: Decision, subject: Person, state: RequestState, name: str) -> str:
    """Why a member's second decision in a round is refused, told to the one clicking."""
    noun = _DECISION_NOUN[taken.verdict]
    if taken.on_behalf_of is None:
        if same_person(taken.approver, subject):
            return f"Your {noun} for {name} on {state.key} is already recorded"
        return f"{taken.approver.label}'s {noun} for {name} on {state.key} is already recorded"
    return (
        f"{taken.approver.label} already recorded a {noun} for {name} on {state.key} "
        f"on behalf of {taken.on_behalf_of.label}"
    )


def _lapsed(delegation: Delegation, on: date) -> str:
    return (
        f"Your delegation for {delegation.approver.label} covers "
        f"{delegation.start.isoformat()} to {delegation.until.isoformat()}; "
        f"today is {on.isoformat()}"
    )
