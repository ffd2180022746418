"""The precedents of a request as Block Kit: on the expert's card and in the assessment modal.

One section lists the most similar decided requests (key linked to Jira, summary, market,
outcome, the SOP version it produced, when), one section per SOP passage (SOP id, version,
section number and heading, the passage as a quote), and a context line with whatever could
not be found, said plainly. User-typed text (summaries, SOP text) is escaped and clipped by
the helpers of `integrations.slack.blocks`.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from domain.precedents import PastRequest, Precedents
from integrations.slack.blocks import (
    CONTEXT_TEXT,
    block_quote,
    clip_mrkdwn,
    link,
    mrkdwn_text,
)

OUTCOME_LABELS = {"DONE": "✅ done", "REJECTED": "❌ rejected", "CANCELLED": "🚫 cancelled"}
# Three lines of at most ~900 units each fit one section (3000).
LINE = 900
QUOTE = 1500


def kept_precedents(facts: dict[str, Any] | None) -> Precedents | None:
    """The precedents kept in a request's facts at routing, if any were computed."""
    raw = (facts or {}).get("precedents")
    return Precedents.model_validate(raw) if isinstance(raw, dict) else None


def precedent_blocks(precedents: Precedents | None, jira_url: str) -> list[Block]:
    """The blocks showing `precedents`; `jira_url` is any issue URL of the same Jira site."""
    if precedents is None:
        return []
    base = jira_url.rsplit("/browse/", 1)[0]
    blocks: list[Block] = []
    if precedents.requests:
        lines = "\n".join(_request_line(r, base) for r in precedents.requests)
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Similar decided requests*\n{lines}")))
    for passage in precedents.passages:
        where = clip_mrkdwn(
            f"{passage.sop_id} v{passage.version} · {passage.number} {passage.heading}", 300
        )
        quote = block_quote(passage.text, QUOTE)
        blocks.append(SectionBlock(text=mrkdwn_text(f"*{where}*\n{quote}")))
    if precedents.notes:
        notes = " ".join(precedents.notes)
        blocks.append(ContextBlock(elements=[mrkdwn_text(clip_mrkdwn(notes, CONTEXT_TEXT))]))
    return blocks


def _request_line(request: PastRequest, base: str) -> str:
    outcome = OUTCOME_LABELS.get(request.outcome, request.outcome.lower())
    produced = f" → {', '.join(request.sop_versions)}" if request.sop_versions else ""
    key = link(f"{base}/browse/{request.key}", request.key, 300)
    summary = clip_mrkdwn(request.summary, 400)
    tail = clip_mrkdwn(
        f"{request.market} · {outcome}{produced} · {request.decided_at.isoformat()}", 300
    )
    return f"• {key} {summary} · {tail}"
