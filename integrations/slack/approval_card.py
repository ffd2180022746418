"""A sign-off team's approval card: the assessment, quorum and decisions, then the buttons.

Its buttons carry the card's round (`button_value`), so a click on an earlier round's card
is refused (`ensure_current`); once the team or the request moved on it is rendered again
without buttons, saying what became of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, SectionBlock

from domain.entitlement import DelegationLike, as_delegations, eligible_roster, team_label
from domain.lifecycle import RequestState
from domain.people import Person, roster_member
from domain.rules import QuorumKind, Rules
from domain.signoff import Decision, TeamState, decision_for, progress_text, tally
from domain.stages import Stage, stage_label
from integrations.slack.action_ids import ActionId, button_value
from integrations.slack.blocks import (
    BLANK,
    FIELD_TEXT,
    MESSAGE_TEXT,
    clip_mrkdwn,
    code_preview,
    fit_lines,
    link,
    mrkdwn,
    mrkdwn_text,
    slack_mention,
    units,
)
from integrations.slack.card_parts import (
    CLOSED_BY_STAGE,
    TEAM_STATE_LABELS,
    VERDICT_WORDS,
    Blocks,
    button,
    card_header,
)
from integrations.slack.draft_diffs import MAX_CARD_DRAFTS, DraftDiff, diff_section, draft_diff
from integrations.slack.request_status import team_status

# How much of the proposed change and rationale a card shows; the thread has the full text.
PREVIEW = 1200
# An actions block holds 25 elements and a message 50 blocks; one delegate per row keeps
# each "Approve for" button's action id unique within its block, as Slack requires.
MAX_DELEGATE_BUTTONS = 10

RECOMMENDATION_LABELS = {
    "PROCEED": "Proceed to sign-off",
    "REJECT": "Reject",
    "NEEDS_INFO": "Needs info from the requester",
}


@dataclass(frozen=True)
class DecisionLine:
    """One decision as a card lists it; a Slack id is shown as a mention if no name is known."""

    who: str
    verdict: str
    reason: str = ""
    on_behalf_of: str | None = None
    who_slack_id: str | None = None
    on_behalf_of_slack_id: str | None = None


@dataclass(frozen=True)
class DelegateButton:
    """An "Approve for <name>" button: the away member's roster entry and how to call them."""

    entry: str
    name: str


@dataclass(frozen=True)
class ApprovalView:
    """What one sign-off team's approval card shows for one round."""

    jira_key: str
    team: str
    team_name: str
    round: int
    current_round: int
    stage: str
    team_state: str
    summary: str
    jira_url: str
    thread_url: str
    quorum: str
    progress: str
    recommendation: str = ""
    risk: str = ""
    proposed_change: str = ""
    affected_sops: list[str] = field(default_factory=list)
    rationale: str = ""
    expert: str = ""
    decisions: list[DecisionLine] = field(default_factory=list)
    delegations: list[DelegateButton] = field(default_factory=list)
    other_teams: list[tuple[str, str]] = field(default_factory=list)
    drafts: list[DraftDiff] = field(default_factory=list)

    @property
    def is_stale(self) -> bool:
        """Whether a later round has opened since this card's round."""
        return self.round != self.current_round

    @property
    def is_open(self) -> bool:
        """Whether the team can still decide on this card."""
        return (
            not self.is_stale
            and self.stage == Stage.SIGN_OFF
            and self.team_state == TeamState.PENDING
        )


def render_approval_card(view: ApprovalView) -> tuple[str, Blocks]:
    """A sign-off team's card in its own channel: the assessment, quorum, decisions, buttons."""
    if view.is_open:
        text = f"{view.jira_key} needs sign-off from {view.team_name}: {view.summary}"
    else:
        text = f"{view.jira_key} · {view.team_name}: {_final_state(view)}"
    heading = f"Sign-off · {view.team_name}"
    blocks = card_header(heading, view.jira_key, view.summary, view.jira_url, view.thread_url)
    blocks.append(SectionBlock(fields=_assessment_fields(view)))
    blocks.extend(_assessment_texts(view))
    if view.decisions:
        lines = fit_lines([_decision_line(d) for d in view.decisions], 2900)
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Decisions so far*\n{lines}")))
    if view.other_teams:
        others = " · ".join(
            f"{clip_mrkdwn(name, 60)}: {clip_mrkdwn(state, 120)}"
            for name, state in view.other_teams[:10]
        )
        blocks.append(ContextBlock(elements=[mrkdwn_text(f"Other teams · {others}", 2000)]))
    if view.is_open:
        blocks.extend(_approval_buttons(view))
    else:
        blocks.append(SectionBlock(text=mrkdwn_text(clip_mrkdwn(_final_state(view), 2900))))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


def approval_view(
    state: RequestState,
    team: str,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    thread_url: str,
    delegations_for_team: Iterable[DelegationLike] = (),
    names: Mapping[str, str] | None = None,
    round: int | None = None,
    on: date | None = None,
) -> ApprovalView:
    """`team`'s approval card for `round` (default: the current one) as `state` has it.

    `delegations_for_team` are delegations for members of `team`; given `on` (today in the
    team's calendar, `entitlement.local_date`) only those covering it count, else the caller
    has filtered them. Each member they cover who has not decided gets an "Approve for"
    button. `names` maps roster entries (Slack ids, emails) to display names, where known.
    """
    signoff = state.signoff_team(team)
    if signoff is None:
        raise ValueError(f"{state.key} does not need sign-off from {team}")
    shown = state.round if round is None else round
    names = names or {}
    roster = eligible_roster(rules, team, state.requester)
    decided = [d for d in state.decisions if d.round == shown and d.team == team]
    counted = tally(team, signoff.quorum, roster, decided)
    assessment = state.assessment
    return ApprovalView(
        jira_key=state.key,
        team=team,
        team_name=team_label(rules, team),
        round=shown,
        current_round=state.round,
        stage=state.stage.value,
        team_state=counted.state.value,
        summary=summary,
        jira_url=jira_url,
        thread_url=thread_url,
        quorum=_quorum_text(signoff.quorum.kind, signoff.quorum.n, len(roster)),
        progress=progress_text(team, signoff.quorum, roster, decided),
        recommendation=assessment.recommendation.value if assessment else "",
        risk=assessment.risk.value if assessment else "",
        proposed_change=assessment.proposed_change if assessment else "",
        affected_sops=list(assessment.affected_sops) if assessment else [],
        rationale=assessment.rationale if assessment else "",
        expert=_display(assessment.author, names) if assessment else "",
        decisions=[_line(d, names) for d in decided],
        delegations=_delegate_buttons(delegations_for_team, roster, team, decided, names, on),
        other_teams=[
            (team_label(rules, s.team), team_status(state, rules, s.team))
            for s in state.signoff
            if s.team != team and shown == state.round
        ],
        drafts=[draft_diff(d) for d in state.drafts] if shown == state.round else [],
    )


def _approval_buttons(view: ApprovalView) -> list[Block]:
    value = button_value(view.jira_key, view.round, team=view.team)
    rows: list[Block] = [
        ActionsBlock(
            block_id="govflow.signoff",
            elements=[
                button("Approve", ActionId.APPROVE, value, style="primary"),
                button("Reject", ActionId.REJECT, value, style="danger"),
                button("Request changes", ActionId.CHANGES, value),
                button("Ask requester", ActionId.ASK, value),
            ],
        )
    ]
    for index, delegate in enumerate(view.delegations[:MAX_DELEGATE_BUTTONS]):
        delegated = button_value(
            view.jira_key, view.round, team=view.team, on_behalf_of=delegate.entry
        )
        rows.append(
            ActionsBlock(
                block_id=f"govflow.approve_for.{index}",
                elements=[button(f"Approve for {delegate.name}", ActionId.APPROVE_FOR, delegated)],
            )
        )
    return rows


def _assessment_fields(view: ApprovalView) -> list[Any]:
    recommendation = RECOMMENDATION_LABELS.get(view.recommendation, view.recommendation)
    sops = ", ".join(view.affected_sops[:20]) or BLANK
    return [
        mrkdwn_text(f"*Recommendation*\n{clip_mrkdwn(recommendation or BLANK, 200)}", FIELD_TEXT),
        mrkdwn_text(f"*Risk*\n{clip_mrkdwn(view.risk or BLANK, 100)}", FIELD_TEXT),
        mrkdwn_text(f"*Expert*\n{clip_mrkdwn(view.expert or BLANK, 300)}", FIELD_TEXT),
        mrkdwn_text(f"*Affected SOPs*\n{clip_mrkdwn(sops, 1500)}", FIELD_TEXT),
        mrkdwn_text(f"*Quorum*\n{clip_mrkdwn(view.quorum, 300)}", FIELD_TEXT),
        mrkdwn_text(
            f"*Progress · round {view.round}*\n{clip_mrkdwn(view.progress, 300)}", FIELD_TEXT
        ),
    ]


def _assessment_texts(view: ApprovalView) -> list[Block]:
    """The drafts' diffs (else the proposed change) and the rationale, pointing at the thread."""
    blocks: list[Block] = []
    more = link(view.thread_url, "full text in the thread", 400)
    # The diffs are what the approval binds to; the typed change would only repeat them.
    blocks += [diff_section(d, view.thread_url) for d in view.drafts[:MAX_CARD_DRAFTS]]
    if len(view.drafts) > MAX_CARD_DRAFTS:
        more_drafts = len(view.drafts) - MAX_CARD_DRAFTS
        blocks.append(
            ContextBlock(elements=[mrkdwn_text(f"…and {more_drafts} more drafts, in the thread")])
        )
    if view.proposed_change.strip() and not view.drafts:
        shown, cut = code_preview(view.proposed_change, PREVIEW)
        tail = f"\n_Clipped; {more}_" if cut else ""
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Proposed change*\n{shown}{tail}")))
    if view.rationale.strip():
        body = clip_mrkdwn(view.rationale, PREVIEW)
        cut = units(mrkdwn(view.rationale)) > PREVIEW
        tail = f"\n_Clipped; {more}_" if cut else ""
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Rationale*\n{body}{tail}")))
    return blocks


def _decision_line(line: DecisionLine) -> str:
    icon, verb = VERDICT_WORDS.get(line.verdict, ("•", line.verdict.lower()))
    text = f"{icon} {_named(line.who, line.who_slack_id)} {verb}"
    if line.on_behalf_of:
        text += f" for {_named(line.on_behalf_of, line.on_behalf_of_slack_id)}"
    if line.reason.strip():
        text += f": {clip_mrkdwn(line.reason, 300)}"
    return f"• {text}"


def _final_state(view: ApprovalView) -> str:
    """What became of a card that no longer takes clicks."""
    if view.is_stale:
        state = TEAM_STATE_LABELS.get(view.team_state, view.team_state)
        return (
            f"Round {view.round} is closed ({state.lower()}); round {view.current_round} "
            "has its own card"
        )
    if view.team_state == TeamState.APPROVED:
        return f"✅ *Approved* by {view.team_name} · {view.progress}"
    if view.team_state == TeamState.REJECTED:
        return f"❌ *Rejected* by {view.team_name}"
    if view.team_state == TeamState.CHANGES_REQUESTED:
        return f"✏️ *Changes requested* by {view.team_name}; back with the expert"
    return CLOSED_BY_STAGE.get(view.stage, f"*{stage_label(view.stage)}*")


def _named(label: str, slack_id: str | None) -> str:
    """A display name; a mention (Slack shows the name) when all we have is the id."""
    # Cards gain decisions by message updates, which notify nobody, so this pings no one.
    if not label.strip() or label == slack_id:
        return slack_mention(slack_id) or clip_mrkdwn(label or BLANK, 80)
    return clip_mrkdwn(label, 80)


def _display(person: Person, names: Mapping[str, str]) -> str:
    for key in (person.slack_id, person.email):
        if key is not None and key in names:
            return names[key]
    return person.label


def _line(decision: Decision, names: Mapping[str, str]) -> DecisionLine:
    behalf = decision.on_behalf_of
    return DecisionLine(
        who=_display(decision.approver, names),
        verdict=decision.verdict.value,
        reason=decision.reason,
        on_behalf_of=_display(behalf, names) if behalf is not None else None,
        who_slack_id=decision.approver.slack_id,
        on_behalf_of_slack_id=behalf.slack_id if behalf is not None else None,
    )


def _delegate_buttons(
    delegations: Iterable[DelegationLike],
    roster: Sequence[str],
    team: str,
    decided: Sequence[Decision],
    names: Mapping[str, str],
    on: date | None,
) -> list[DelegateButton]:
    """One button per away member a delegation covers who has not decided this round."""
    buttons: dict[str, DelegateButton] = {}
    for delegation in as_delegations(delegations):
        if on is not None and not delegation.covers(on):
            continue
        entry = roster_member(delegation.approver, roster)
        if entry is None or entry in buttons or decision_for(entry, team, roster, decided):
            continue
        name = names.get(entry) or delegation.approver.name or entry
        buttons[entry] = DelegateButton(entry=entry, name=name)
    return list(buttons.values())


def _quorum_text(kind: QuorumKind, n: int | None, members: int) -> str:
    if kind is QuorumKind.ALL:
        return f"every approver ({members})"
    if kind is QuorumKind.N_OF:
        return f"{n} of {members} approvers"
    return "any one approver"
