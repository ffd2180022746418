"""What every govflow card is built from: its header, its buttons, its links line, and the
words it uses for verdicts, team states and a request that moved on.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, HeaderBlock, SectionBlock

from domain.signoff import TeamState, Verdict
from domain.stages import Stage
from integrations.slack.action_ids import ActionId
from integrations.slack.blocks import (
    BUTTON_TEXT,
    CONTEXT_TEXT,
    HEADER_TEXT,
    clip,
    link,
    mrkdwn_text,
    plain_text,
)

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


def button(label: str, action: ActionId, value: str, *, style: str | None = None) -> ButtonElement:
    """A card button carrying `value`, its label clipped to what Slack allows."""
    return ButtonElement(
        text=clip(label, BUTTON_TEXT), action_id=action.value, value=value, style=style
    )


def links(jira_url: str, thread_url: str, extra: str) -> ContextBlock:
    """The context line under a card: its Jira issue, its thread, and `extra`."""
    parts = [link(jira_url, "Jira issue", 600), link(thread_url, "Thread", 600), extra]
    return ContextBlock(elements=[mrkdwn_text(" · ".join(parts), CONTEXT_TEXT)])


def card_header(
    heading: str, jira_key: str, summary: str, jira_url: str, thread_url: str, note: str = ""
) -> list[Block]:
    """The top of a card: `heading`, then its request (linked to Jira), its thread and `note`."""
    return [
        HeaderBlock(text=plain_text(heading, HEADER_TEXT)),
        SectionBlock(
            text=mrkdwn_text(
                f"*{link(jira_url, f'{jira_key} · {summary}', 2600)}*\n"
                f"{link(thread_url, 'Discussion thread', 300)}{note}"
            )
        ),
    ]
