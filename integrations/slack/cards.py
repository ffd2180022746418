"""govflow's Slack cards: the expert's assignment card, each sign-off team's approval card,
the SOP owner's update card, the publication announcement, and the thread root's card.

Renderers take a view of plain fields (strings and lists), so the advance step can fill one
from anything; `assignment_view`, `approval_view` and `request_card_from_state` fill them from
a `RequestState` and the rules. Every renderer returns `(fallback_text, blocks)`; the blocks
are built with `slack_sdk.models` (which checks Slack's limits) and every piece of user text
goes through the escaping and clipping helpers of `integrations.slack.blocks`.

A card with buttons is live: its buttons carry `button_value(...)` with the card's round, so
the receiver can refuse a click made on a card of an earlier round (`ensure_current`). A card
whose request or team has moved on is rendered again without buttons, saying what became of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)

from config.rules import QuorumKind, Rules
from domain.entitlement import DelegationLike, as_delegations, eligible_roster, team_label
from domain.lifecycle import RequestState, SopDraft
from domain.people import Person, roster_member
from domain.precedents import Precedents
from domain.signoff import Decision, TeamState, Verdict, decision_for, progress_text, tally
from domain.sop_merge import render_diff
from domain.stages import Stage, Turn, stage_label
from integrations.slack.blocks import (
    BLANK,
    BUTTON_TEXT,
    CONTEXT_TEXT,
    FIELD_TEXT,
    HEADER_TEXT,
    MESSAGE_TEXT,
    RequestCard,
    clip,
    clip_mrkdwn,
    code_preview,
    fit_lines,
    link,
    mrkdwn,
    mrkdwn_text,
    person_ref,
    plain_text,
    slack_mention,
    units,
)
from integrations.slack.interactions import ActionId, button_value
from integrations.slack.precedents import precedent_blocks

# How much of the proposed change and rationale a card shows; the thread has the full text.
PREVIEW = 1200
# An actions block holds 25 elements and a message 50 blocks; one delegate per row keeps
# each "Approve for" button's action id unique within its block, as Slack requires.
MAX_DELEGATE_BUTTONS = 10
MAX_FACTS = 6
# A diff on a card: rendered to this many characters (whole hunks first), then clipped as
# mrkdwn; the thread carries the full diff. Past MAX_CARD_DRAFTS drafts the thread lists them.
DIFF_PREVIEW = 1800
DIFF_BLOCK = 2600
MAX_CARD_DRAFTS = 5

RECOMMENDATION_LABELS = {
    "PROCEED": "Proceed to sign-off",
    "REJECT": "Reject",
    "NEEDS_INFO": "Needs info from the requester",
}
TEAM_STATE_LABELS: dict[str, str] = {
    TeamState.PENDING: "Pending",
    TeamState.APPROVED: "Approved",
    TeamState.REJECTED: "Rejected",
    TeamState.CHANGES_REQUESTED: "Changes requested",
}
VERDICT_WORDS: dict[str, tuple[str, str]] = {
    Verdict.APPROVE: ("✅", "approved"),
    Verdict.REJECT: ("❌", "rejected"),
    Verdict.REQUEST_CHANGES: ("✏️", "asked for changes"),
}

# What an approval card still pending says once its request left sign-off.
CLOSED_BY_STAGE: dict[str, str] = {
    Stage.NEEDS_INFO: "⏸️ *Paused* while the requester answers a question",
    Stage.EXPERT_REVIEW: "↩️ *Back with the expert*: this round was sent back",
    Stage.REJECTED: "❌ *Closed*: the request was rejected",
    Stage.CANCELLED: "🚫 *Closed*: the request was cancelled",
    Stage.SOP_UPDATE: "✅ *Signed off*: on to the SOP update",
    Stage.DONE: "✅ *Done*",
}

Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class AssignmentView:
    """What the expert team's assignment card shows; `outcome` once it left expert review."""

    jira_key: str
    round: int
    stage: str
    summary: str
    jira_url: str
    thread_url: str
    expert_team: str
    requester: str
    assignee: str | None = None
    assignee_slack_id: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    outcome: str = ""
    precedents: Precedents | None = None

    @property
    def is_open(self) -> bool:
        """Whether the card takes clicks: only while the request is in expert review."""
        return self.stage == Stage.EXPERT_REVIEW


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
class DraftDiff:
    """One SOP draft as a card shows it: its base version and a diff cut to fit."""

    sop_id: str
    base_version: int
    diff: str
    truncated: bool


@dataclass(frozen=True)
class ConflictView:
    """A draft that clashes with a newer version of its SOP, and the clashing hunks."""

    sop_id: str
    base_version: int
    current_version: int
    conflict: str


@dataclass(frozen=True)
class SopUpdateView:
    """What the SOP owner team's update card shows for the drafts of one sign-off round."""

    jira_key: str
    round: int
    current_round: int
    stage: str
    summary: str
    jira_url: str
    thread_url: str
    owner_team: str
    drafts: list[DraftDiff] = field(default_factory=list)
    conflicts: list[ConflictView] = field(default_factory=list)
    undrafted: list[str] = field(default_factory=list)
    published: list[tuple[str, int, str]] = field(default_factory=list)
    outcome: str = ""
    # Once published: who has attested to each version's training case (issue 15).
    attestation: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether the owner can still act on this card."""
        return self.round == self.current_round and self.stage == Stage.SOP_UPDATE

    @property
    def can_publish(self) -> bool:
        """Whether every draft is ready: none missing, none in conflict."""
        return bool(self.drafts) and not self.conflicts and not self.undrafted


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


# --- renderers --------------------------------------------------------------------------


def render_assignment_card(view: AssignmentView) -> tuple[str, Blocks]:
    """The expert team's card in the request's thread: facts, holder, Claim/Assess/Ask."""
    holder = _holder(view)
    if view.is_open:
        text = f"{view.jira_key} needs an expert assessment: {view.summary}"
    else:
        text = f"{view.jira_key}: {view.outcome or stage_label(view.stage)}"
    title = link(view.jira_url, f"{view.jira_key} · {view.summary}", 2800)
    fields = [
        mrkdwn_text(f"*Held by*\n{holder}", FIELD_TEXT),
        mrkdwn_text(f"*Requester*\n{clip_mrkdwn(view.requester, 1900)}", FIELD_TEXT),
        mrkdwn_text(f"*Expert team*\n{clip_mrkdwn(view.expert_team, 1900)}", FIELD_TEXT),
        *(
            mrkdwn_text(f"*{clip_mrkdwn(name, 100)}*\n{clip_mrkdwn(value, 1800)}", FIELD_TEXT)
            for name, value in view.facts[:MAX_FACTS]
        ),
    ]
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn_text(f"*Expert assessment* · {title}")),
        SectionBlock(fields=fields),
    ]
    if view.feedback:
        lines = "\n".join(f"• {clip_mrkdwn(line, 600)}" for line in view.feedback[:4])
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Sent back by sign-off*\n{lines}")))
    if view.is_open:
        # What the expert weighs while assessing (issue 15); gone once assessed.
        blocks += precedent_blocks(view.precedents, view.jira_url)
    if view.is_open:
        value = button_value(view.jira_key, view.round)
        claimed = view.assignee is not None
        blocks.append(
            ActionsBlock(
                block_id="govflow.assignment",
                elements=[
                    _button(
                        "Take over" if claimed else "Claim",
                        ActionId.CLAIM,
                        value,
                        style=None if claimed else "primary",
                    ),
                    _button(
                        "Submit assessment",
                        ActionId.ASSESS,
                        value,
                        style="primary" if claimed else None,
                    ),
                    _button("Ask requester", ActionId.ASK, value),
                ],
            )
        )
    else:
        stage = stage_label(view.stage)
        outcome = f"*{clip_mrkdwn(stage, 100)}*"
        if view.outcome:
            outcome += f" · {clip_mrkdwn(view.outcome, 2500)}"
        blocks.append(SectionBlock(text=mrkdwn_text(outcome)))
    blocks.append(_links(view.jira_url, view.thread_url, f"Round {view.round}"))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


def render_approval_card(view: ApprovalView) -> tuple[str, Blocks]:
    """A sign-off team's card in its own channel: the assessment, quorum, decisions, buttons."""
    if view.is_open:
        text = f"{view.jira_key} needs sign-off from {view.team_name}: {view.summary}"
    else:
        text = f"{view.jira_key} · {view.team_name}: {_final_state(view)}"
    blocks: list[Block] = [
        HeaderBlock(text=plain_text(f"Sign-off · {view.team_name}", HEADER_TEXT)),
        SectionBlock(
            text=mrkdwn_text(
                f"*{link(view.jira_url, f'{view.jira_key} · {view.summary}', 2600)}*\n"
                f"{link(view.thread_url, 'Discussion thread', 300)}"
            )
        ),
        SectionBlock(fields=_assessment_fields(view)),
    ]
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


def render_sop_update_card(view: SopUpdateView) -> tuple[str, Blocks]:
    """The SOP owner team's card: each draft's diff, conflicts, then Publish/Edit/Send back."""
    if view.is_open:
        text = f"{view.jira_key} is signed off: publish its SOP update ({view.summary})"
    else:
        text = f"{view.jira_key} · SOP update: {_sop_final_state(view)}"
    blocks: list[Block] = [
        HeaderBlock(text=plain_text(f"SOP update · {view.owner_team}", HEADER_TEXT)),
        SectionBlock(
            text=mrkdwn_text(
                f"*{link(view.jira_url, f'{view.jira_key} · {view.summary}', 2600)}*\n"
                f"{link(view.thread_url, 'Discussion thread', 300)} · signed off in round "
                f"{view.round}"
            )
        ),
    ]
    conflicts = {c.sop_id: c for c in view.conflicts}
    for index, draft in enumerate(view.drafts[:MAX_CARD_DRAFTS]):
        blocks.append(_diff_section(draft, view.thread_url))
        conflict = conflicts.get(draft.sop_id)
        if conflict is not None:
            shown, _ = code_preview(conflict.conflict, DIFF_BLOCK)
            head = (
                f"⚠️ *{clip_mrkdwn(draft.sop_id, 64)} v{conflict.current_version} was published "
                "since, and it clashes with this draft.* Edit to say how the change reads on "
                "the newer version, or send the request back."
            )
            blocks.append(SectionBlock(text=mrkdwn_text(f"{head}\n{shown}")))
        if view.is_open:
            value = button_value(view.jira_key, view.round, sop=draft.sop_id)
            label = "Resolve conflict" if conflict is not None else "Edit draft"
            blocks.append(
                ActionsBlock(
                    block_id=f"govflow.sop_edit.{index}",
                    elements=[_button(f"{label} · {draft.sop_id}", ActionId.SOP_EDIT, value)],
                )
            )
    if len(view.drafts) > MAX_CARD_DRAFTS:
        more = len(view.drafts) - MAX_CARD_DRAFTS
        blocks.append(
            ContextBlock(elements=[mrkdwn_text(f"…and {more} more drafts, in the thread")])
        )
    for sop in view.undrafted[:10]:
        blocks.append(
            SectionBlock(
                text=mrkdwn_text(
                    f"⚠️ *{clip_mrkdwn(sop, 64)}* has no draft: the SOP registry did not hold it "
                    "when the change was assessed, so govflow cannot publish it. Send the "
                    "request back once it is imported."
                )
            )
        )
    if view.is_open:
        value = button_value(view.jira_key, view.round)
        elements = [_button("Send back", ActionId.SOP_SEND_BACK, value, style="danger")]
        if view.can_publish:
            publish = _button("Publish", ActionId.SOP_PUBLISH, value, style="primary")
            publish.confirm = ConfirmObject(
                title="Publish the SOP update?",
                text=f"Each draft becomes the next version of its SOP, effective today "
                f"({len(view.drafts)} SOP{'s' if len(view.drafts) != 1 else ''}).",
                confirm="Publish",
                deny="Not yet",
            )
            elements.insert(0, publish)
        blocks.append(ActionsBlock(block_id="govflow.sop_update", elements=elements))
    else:
        blocks.append(SectionBlock(text=mrkdwn_text(clip_mrkdwn(_sop_final_state(view), 2900))))
    if view.attestation:
        lines = fit_lines([f"📚 {clip_mrkdwn(line, 300)}" for line in view.attestation], 2900)
        blocks.append(ContextBlock(elements=[mrkdwn_text(lines, CONTEXT_TEXT)]))
    blocks.append(_links(view.jira_url, view.thread_url, f"Round {view.round}"))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


def render_sop_announcement(
    *,
    jira_key: str,
    summary: str,
    jira_url: str,
    sop_id: str,
    version: int,
    effective_date: date,
    diff: str,
) -> tuple[str, Blocks]:
    """The announcement of a published SOP version to a training or BPO channel."""
    text = f"{sop_id} v{version} is published, effective {effective_date.isoformat()}: {summary}"
    rendered = render_diff_preview(diff)
    shown, cut = code_preview(rendered.diff, DIFF_BLOCK)
    tail = ""
    if cut or rendered.truncated:
        tail = "\n_The diff is cut short; the full text is in the SOP registry._"
    blocks: list[Block] = [
        HeaderBlock(text=plain_text(f"📘 {sop_id} v{version} published", HEADER_TEXT)),
        SectionBlock(
            text=mrkdwn_text(
                f"*{clip_mrkdwn(summary, 1500)}*\nEffective *{effective_date.isoformat()}* · "
                f"{link(jira_url, jira_key, 600)}"
            )
        ),
        SectionBlock(text=mrkdwn_text(f"*What changed*\n{shown}{tail}")),
        ContextBlock(
            elements=[
                mrkdwn_text(
                    clip_mrkdwn(
                        f"See it all: govflow sop show {sop_id} --version {version} · "
                        f"govflow sop diff {sop_id} {max(version - 1, 1)} {version}",
                        CONTEXT_TEXT,
                    )
                )
            ]
        ),
    ]
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


@dataclass(frozen=True)
class _Preview:
    diff: str
    truncated: bool


def render_diff_preview(diff: str) -> _Preview:
    """A full unified diff cut to a card's budget at a line end, whole lines only."""
    if len(diff) <= DIFF_PREVIEW:
        return _Preview(diff, False)
    kept: list[str] = []
    used = 0
    for line in diff.split("\n"):
        if used + len(line) + 1 > DIFF_PREVIEW - 60:
            break
        kept.append(line)
        used += len(line) + 1
    omitted = diff.count("\n") + 1 - len(kept)
    kept.append(f"... {omitted} more diff lines not shown")
    return _Preview("\n".join(kept), True)


# --- views from state -------------------------------------------------------------------


def draft_diff(draft: SopDraft) -> DraftDiff:
    """A draft's diff against its base, cut to a card's budget."""
    label = f"{draft.sop_id} v{draft.base_version}"
    diff = render_diff(
        draft.base_text, draft.text, max_chars=DIFF_PREVIEW, a_label=label, b_label="draft"
    )
    return DraftDiff(draft.sop_id, draft.base_version, diff.text, diff.truncated)


def sop_update_view(
    state: RequestState,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    thread_url: str,
    round: int | None = None,
) -> SopUpdateView:
    """The SOP update card's view of `state` for the drafts of `round` (default: current)."""
    return SopUpdateView(
        jira_key=state.key,
        round=state.round if round is None else round,
        current_round=state.round,
        stage=state.stage.value,
        summary=summary,
        jira_url=jira_url,
        thread_url=thread_url,
        owner_team=team_label(rules, state.owner_team),
        drafts=[draft_diff(d) for d in state.drafts],
        conflicts=[
            ConflictView(c.sop_id, c.base_version, c.current_version, c.conflict)
            for c in state.conflicts
        ],
        undrafted=list(state.undrafted),
        published=[(p.sop_id, p.version, p.effective_date.isoformat()) for p in state.published],
        outcome=_outcome(state, rules),
    )


def assignment_view(
    state: RequestState,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    thread_url: str,
    facts: Sequence[tuple[str, str]] = (),
    precedents: Precedents | None = None,
) -> AssignmentView:
    """The assignment card's view of `state`; `facts` adds ("Priority", "P2")-style pairs."""
    assignee = state.assignee
    return AssignmentView(
        jira_key=state.key,
        round=state.round,
        stage=state.stage.value,
        summary=summary,
        jira_url=jira_url,
        thread_url=thread_url,
        expert_team=team_label(rules, state.expert_team),
        requester=state.requester.label,
        assignee=assignee.label if assignee is not None else None,
        assignee_slack_id=assignee.slack_id if assignee is not None else None,
        facts=list(facts),
        feedback=_feedback(state, rules) if state.stage is Stage.EXPERT_REVIEW else [],
        outcome=_outcome(state, rules),
        precedents=precedents,
    )


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
            (team_label(rules, s.team), _team_status(state, rules, s.team))
            for s in state.signoff
            if s.team != team and shown == state.round
        ],
        drafts=[draft_diff(d) for d in state.drafts] if shown == state.round else [],
    )


def request_card_from_state(
    state: RequestState,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    requester_label: str,
    clocks: list[str],
    request_type: str = "",
    domain: str = "",
    market: str = "",
    priority: str = "",
) -> RequestCard:
    """The thread root's card for `state`: stage, who holds it, every sign-off team's state.

    `request_type` and `domain` may be rule keys (shown by their labels) or labels; facts
    left empty are left off the card, so pass what intake showed to keep it.
    """
    found_type = rules.request_types.get(request_type)
    found_domain = rules.domains.get(domain)
    return RequestCard(
        jira_key=state.key,
        jira_url=jira_url,
        summary=summary,
        request_type=found_type.label if found_type else request_type,
        domain=found_domain.label if found_domain else domain,
        market=market,
        priority=priority,
        stage=state.stage.value,
        held_by=_held_by(state, rules, requester_label),
        requester=requester_label or state.requester.label,
        signoff=[
            (team_label(rules, s.team), _team_status(state, rules, s.team)) for s in state.signoff
        ],
        clocks=list(clocks),
        note=_outcome(state, rules),
    )


# --- pieces -----------------------------------------------------------------------------


def _button(label: str, action: ActionId, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=clip(label, BUTTON_TEXT), action_id=action.value, value=value, style=style
    )


def _approval_buttons(view: ApprovalView) -> list[Block]:
    value = button_value(view.jira_key, view.round, team=view.team)
    rows: list[Block] = [
        ActionsBlock(
            block_id="govflow.signoff",
            elements=[
                _button("Approve", ActionId.APPROVE, value, style="primary"),
                _button("Reject", ActionId.REJECT, value, style="danger"),
                _button("Request changes", ActionId.CHANGES, value),
                _button("Ask requester", ActionId.ASK, value),
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
                elements=[_button(f"Approve for {delegate.name}", ActionId.APPROVE_FOR, delegated)],
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
    blocks += [_diff_section(d, view.thread_url) for d in view.drafts[:MAX_CARD_DRAFTS]]
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


def _diff_section(draft: DraftDiff, thread_url: str) -> SectionBlock:
    """One draft's diff in a code block, saying where the full one is when it was cut."""
    shown, cut = code_preview(draft.diff, DIFF_BLOCK)
    head = f"*Draft of {clip_mrkdwn(draft.sop_id, 64)}* · changes v{draft.base_version}"
    tail = ""
    if cut or draft.truncated:
        tail = f"\n_Diff cut short; {link(thread_url, 'full diff in the thread', 400)}_"
    return SectionBlock(text=mrkdwn_text(f"{head}\n{shown}{tail}"))


def _sop_final_state(view: SopUpdateView) -> str:
    """What became of an SOP update card that no longer takes clicks."""
    if view.stage == Stage.DONE and view.published:
        versions = ", ".join(f"{sop} v{n} (effective {on})" for sop, n, on in view.published)
        return f"✅ *Published*: {clip_mrkdwn(versions, 2000)}"
    if view.round != view.current_round:
        return (
            f"🔁 The drafts changed after round {view.round}; they are in sign-off again "
            f"(round {view.current_round}), which posts a new card when it completes"
        )
    if view.stage == Stage.EXPERT_REVIEW:
        return "↩️ *Sent back* to expert review; nothing was published"
    return CLOSED_BY_STAGE.get(view.stage, f"*{stage_label(view.stage)}*")


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


def _links(jira_url: str, thread_url: str, extra: str) -> ContextBlock:
    parts = [link(jira_url, "Jira issue", 600), link(thread_url, "Thread", 600), extra]
    return ContextBlock(elements=[mrkdwn_text(" · ".join(parts), CONTEXT_TEXT)])


def _holder(view: AssignmentView) -> str:
    if view.assignee is None and view.assignee_slack_id is None:
        return "_Unclaimed_"
    return slack_mention(view.assignee_slack_id) or clip_mrkdwn(view.assignee or BLANK, 200)


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


def _team_status(state: RequestState, rules: Rules, team: str) -> str:
    """Where `team` stands in the current round, in a few words for a card."""
    progress = state.team_progress(rules, team)
    if progress is None or state.round == 0:
        return "Not started"
    if progress.state is not TeamState.PENDING:
        return TEAM_STATE_LABELS[progress.state]
    if state.stage is Stage.SIGN_OFF:
        return f"Pending · {progress.text}"
    if state.stage is Stage.EXPERT_REVIEW:
        return "Waiting for the revised assessment"
    if state.stage is Stage.NEEDS_INFO:
        return f"Paused · {progress.text}"
    return f"Not decided · {progress.text}"


def _held_by(state: RequestState, rules: Rules, requester_label: str) -> str:
    waiting = state.waiting_on(rules)
    if waiting.turn is Turn.REQUESTER and requester_label:
        return f"{requester_label} (to answer a question)"
    return waiting.label


def status_text(state: RequestState, rules: Rules) -> str:
    """Whom the request waits for, in a sentence or two for `/govflow status`."""
    waiting = state.waiting_on(rules)
    teams = ", ".join(waiting.names)
    match waiting.turn:
        case Turn.EXPERTS if waiting.person is not None:
            return f"{person_ref(waiting.person)} is assessing it."
        case Turn.EXPERTS:
            return f"Waiting for {teams} to claim it."
        case Turn.REQUESTER:
            return f"Waiting for {state.requester.label} to answer on Jira."
        case Turn.SIGNOFF:
            lines = [f"• {p.name}: {_marker(p.state)} ({p.text})" for p in waiting.signoff]
            return f"Sign-off round {state.round}:\n" + "\n".join(lines)
        case Turn.SOP_OWNER:
            return f"Every team approved; waiting for {teams} to publish the SOP update."
        case Turn.NOBODY:
            return "Nothing more is waiting on anyone."
        case _:
            return ""


def _marker(state: TeamState) -> str:
    return "waiting" if state is TeamState.PENDING else state.value.lower()


def _pushback(state: RequestState) -> Decision | None:
    """The rejection or request for changes that ended the current round, if one did."""
    return next(
        (d for d in reversed(state.round_decisions()) if d.verdict is not Verdict.APPROVE), None
    )


def _feedback(state: RequestState, rules: Rules) -> list[str]:
    """Why sign-off sent the request back to the expert, for the assignment card."""
    decision = _pushback(state)
    if decision is None:
        return []
    _, verb = VERDICT_WORDS[decision.verdict]
    who = f"{decision.approver.label} ({team_label(rules, decision.team)})"
    return [f"{who} {verb} in round {decision.round}: {decision.reason}"]


def _outcome(state: RequestState, rules: Rules) -> str:
    """One line on what matters now: the open question, the outcome, or the sign-off round."""
    assessment = state.assessment
    match state.stage:
        case Stage.NEEDS_INFO:
            question = state.question
            if question is None:
                return "Waiting for the requester"
            return f"Waiting for the requester to answer {question.asked_by.label}: {question.text}"
        case Stage.SIGN_OFF:
            risk = f" (risk {assessment.risk.value})" if assessment else ""
            return f"Recommended{risk}; sign-off round {state.round} is open"
        case Stage.SOP_UPDATE:
            if state.conflicts:
                clashing = ", ".join(c.sop_id for c in state.conflicts)
                return f"{clashing} clashes with a newer version; the SOP owner reconciles it"
            return f"Every team signed off round {state.round}; the SOP update is next"
        case Stage.DONE:
            versions = ", ".join(f"{p.sop_id} v{p.version}" for p in state.published)
            return f"Published {versions}" if versions else "The SOP update is published"
        case Stage.REJECTED:
            decision = _pushback(state)
            if decision is not None and decision.verdict is Verdict.REJECT:
                return f"Rejected by {team_label(rules, decision.team)}: {decision.reason}"
            if assessment is not None:
                return f"Rejected in expert review: {assessment.rationale}"
            return "Rejected"
        case Stage.CANCELLED:
            return "Cancelled"
        case Stage.EXPERT_REVIEW:
            return "; ".join(_feedback(state, rules))
        case _:
            return ""
