"""SOP drafts' diffs as the cards show them: cut to a card's budget, saying where the rest is."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import SectionBlock

from domain.lifecycle import SopDraft
from domain.sop_merge import render_diff
from integrations.slack.blocks import (
    clip_mrkdwn,
    code_preview,
    link,
    mrkdwn_text,
)

# A diff on a card: rendered to this many characters (whole hunks first), then clipped as
# mrkdwn; the thread carries the full diff. Past MAX_CARD_DRAFTS drafts the thread lists them.
DIFF_PREVIEW = 1800
DIFF_BLOCK = 2600
MAX_CARD_DRAFTS = 5


@dataclass(frozen=True)
class DraftDiff:
    """One SOP draft as a card shows it: its base version and a diff cut to fit."""

    sop_id: str
    base_version: int
    diff: str
    truncated: bool


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


def draft_diff(draft: SopDraft) -> DraftDiff:
    """A draft's diff against its base, cut to a card's budget."""
    label = f"{draft.sop_id} v{draft.base_version}"
    diff = render_diff(
        draft.base_text, draft.text, max_chars=DIFF_PREVIEW, a_label=label, b_label="draft"
    )
    return DraftDiff(draft.sop_id, draft.base_version, diff.text, diff.truncated)


def diff_section(draft: DraftDiff, thread_url: str) -> SectionBlock:
    """One draft's diff in a code block, saying where the full one is when it was cut."""
    shown, cut = code_preview(draft.diff, DIFF_BLOCK)
    head = f"*Draft of {clip_mrkdwn(draft.sop_id, 64)}* · changes v{draft.base_version}"
    tail = ""
    if cut or draft.truncated:
        tail = f"\n_Diff cut short; {link(thread_url, 'full diff in the thread', 400)}_"
    return SectionBlock(text=mrkdwn_text(f"{head}\n{shown}{tail}"))
