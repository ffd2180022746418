"""The SOP owner team's update card: each draft's diff and conflicts, then Publish/Edit/Send
back; once published, who has attested to the training case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    ActionsBlock,
    ConfirmObject,
    ContextBlock,
    SectionBlock,
)

from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.rules import Rules
from domain.stages import Stage, stage_label
from integrations.slack.action_ids import ActionId, button_value
from integrations.slack.blocks import (
    CONTEXT_TEXT,
    MESSAGE_TEXT,
    clip_mrkdwn,
    code_preview,
    fit_lines,
    mrkdwn_text,
)
from integrations.slack.card_parts import CLOSED_BY_STAGE, Blocks, button, card_header, links
from integrations.slack.draft_diffs import (
    DIFF_BLOCK,
    MAX_CARD_DRAFTS,
    DraftDiff,
    diff_section,
    draft_diff,
)
from integrations.slack.request_status import outcome


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


def render_sop_update_card(view: SopUpdateView) -> tuple[str, Blocks]:
    """The SOP owner team's card: each draft's diff, conflicts, then Publish/Edit/Send back."""
    if view.is_open:
        text = f"{view.jira_key} is signed off: publish its SOP update ({view.summary})"
    else:
        text = f"{view.jira_key} · SOP update: {_sop_final_state(view)}"
    heading = f"SOP update · {view.owner_team}"
    note = f" · signed off in round {view.round}"
    blocks = card_header(heading, view.jira_key, view.summary, view.jira_url, view.thread_url, note)
    conflicts = {c.sop_id: c for c in view.conflicts}
    for index, draft in enumerate(view.drafts[:MAX_CARD_DRAFTS]):
        blocks.append(diff_section(draft, view.thread_url))
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
                    elements=[button(f"{label} · {draft.sop_id}", ActionId.SOP_EDIT, value)],
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
        elements = [button("Send back", ActionId.SOP_SEND_BACK, value, style="danger")]
        if view.can_publish:
            publish = button("Publish", ActionId.SOP_PUBLISH, value, style="primary")
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
    blocks.append(links(view.jira_url, view.thread_url, f"Round {view.round}"))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


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
        outcome=outcome(state, rules),
    )


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
