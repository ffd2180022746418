"""Block Kit rendering as pure functions over `slack_sdk.models` (which validate lengths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

STAGE_LABELS = {
    "RECEIVED": "Received",
    "NEEDS_INFO": "Waiting on requester",
    "EXPERT_REVIEW": "Expert review",
    "SIGN_OFF": "Stakeholder sign-off",
    "SOP_UPDATE": "SOP update",
    "DONE": "Done",
    "REJECTED": "Rejected",
    "CANCELLED": "Cancelled",
}


@dataclass(frozen=True)
class RequestCard:
    """What the thread's root message shows about a request."""

    jira_key: str
    jira_url: str
    summary: str
    request_type: str
    domain: str
    market: str
    priority: str
    stage: str
    held_by: str
    requester: str
    signoff: list[tuple[str, str]] = field(default_factory=list)
    clocks: list[str] = field(default_factory=list)


def render_request_root(card: RequestCard) -> tuple[str, list[dict[str, Any]]]:
    """The root message of a request's thread: fallback text and blocks."""
    stage = STAGE_LABELS.get(card.stage, card.stage)
    text = f"{card.jira_key} · {card.summary} · {stage}"
    blocks: list[Block] = [
        HeaderBlock(text=_clip(f"{card.jira_key} · {card.request_type}", 150)),
        SectionBlock(
            text=MarkdownTextObject(text=f"*<{card.jira_url}|{_mrkdwn(_clip(card.summary, 500))}>*")
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Stage*\n{stage}"),
                MarkdownTextObject(text=f"*Held by*\n{_clip(_mrkdwn(card.held_by), 1900)}"),
                MarkdownTextObject(
                    text=f"*Domain · Market*\n{_mrkdwn(card.domain)} · {card.market}"
                ),
                MarkdownTextObject(text=f"*Priority*\n{card.priority}"),
                MarkdownTextObject(text=f"*Requester*\n{_clip(_mrkdwn(card.requester), 1900)}"),
            ]
        ),
    ]
    if card.signoff:
        lines = "\n".join(f"• {_mrkdwn(team)}: {state}" for team, state in card.signoff)
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=_clip(f"*Sign-off*\n{lines}", 3000)))
        )
    if card.clocks:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_clip(" | ".join(card.clocks), 3000))])
        )
    return text, [block.to_dict() for block in blocks]


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
