"""The announcement of a published SOP version to a training or BPO channel."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from integrations.slack.blocks import (
    CONTEXT_TEXT,
    HEADER_TEXT,
    MESSAGE_TEXT,
    clip_mrkdwn,
    code_preview,
    link,
    mrkdwn_text,
    plain_text,
)
from integrations.slack.card_parts import Blocks
from integrations.slack.draft_diffs import DIFF_BLOCK, render_diff_preview


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
