"""An independent reading of the shipped rules: who may approve for which team, and quorum.

Written against the example Slack workspace's people and the rules' rosters, calendars and
out-of-office entries directly, not through `domain.entitlement` or `domain.signoff`, so a
bug there cannot hide itself from the stateful test.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from domain.lifecycle import RequestState
from domain.people import Person
from domain.rules import QuorumKind, Rules
from domain.signoff import Decision, Verdict
from sandbox.slack.seed import EXAMPLE_WORKSPACE

EMAIL_OF = {u.id: (u.email or "").casefold() for u in EXAMPLE_WORKSPACE.users}


def _ids_of(person: Person) -> set[str]:
    """Every identifier the oracle accepts for a person: Slack id and lower-cased email."""
    found = {person.slack_id} if person.slack_id else set()
    if person.email:
        found.add(person.email.casefold())
    if person.slack_id in EMAIL_OF:
        found.add(EMAIL_OF[person.slack_id])
    return found


def _roster_ids(entry: str) -> set[str]:
    return {entry, EMAIL_OF.get(entry, entry.casefold())} - {""}


def _is(person: Person, entry: str) -> bool:
    return bool(_ids_of(person) & _roster_ids(entry))


def _requester(state: RequestState, person: Person) -> bool:
    return bool(_ids_of(person) & _ids_of(state.requester))


def counted_entry(decision: Decision, state: RequestState, rules: Rules) -> str | None:
    """The roster entry an approval counts for under the rules, or None if it counts for none."""
    if _requester(state, decision.approver):
        return None
    member = decision.on_behalf_of or decision.approver
    if _requester(state, member):
        return None
    entry = next((e for e in rules.teams[decision.team].roster if _is(member, e)), None)
    if entry is None or decision.on_behalf_of is None:
        return entry
    calendar = rules.calendars[rules.teams[decision.team].calendar]
    day = decision.at.astimezone(ZoneInfo(calendar.timezone)).date()
    covered = any(
        _is(decision.approver, ooo.delegate)
        and bool(_roster_ids(ooo.approver) & _roster_ids(entry))
        and ooo.start <= day <= ooo.until
        for ooo in rules.out_of_office
    )
    return entry if covered else None


def team_at_quorum(state: RequestState, team: str, round_: int, rules: Rules) -> bool:
    """Whether `team` reached its quorum in `round_` by entitled approvals alone."""
    signoff = next(s for s in state.signoff if s.team == team)
    mine = [d for d in state.decisions if d.round == round_ and d.team == team]
    if any(d.verdict is not Verdict.APPROVE for d in mine):
        return False
    members = {counted_entry(d, state, rules) for d in mine} - {None}
    roster = rules.teams[team].roster
    eligible = {e for e in roster if not (_roster_ids(e) & _ids_of(state.requester))}
    if signoff.quorum.kind is QuorumKind.ALL:
        return bool(eligible) and eligible <= members
    if signoff.quorum.kind is QuorumKind.N_OF:
        return len(members) >= (signoff.quorum.n or 1)
    return len(members) >= 1


def round_signed_off(state: RequestState, round_: int, rules: Rules) -> bool:
    """Whether every sign-off team of the request reached quorum in `round_`."""
    return all(team_at_quorum(state, s.team, round_, rules) for s in state.signoff)
