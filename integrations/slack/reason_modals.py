"""The modals that ask one person why, in one required box: reject, request changes, ask the
requester, send an SOP update back to expert review.

They differ only in words and ids, so each is a `ReasonModal` and `reason_modal` builds them
all. An intro is a `str.format` template over `key` (the Jira key), `round`, `who` (the team's
name, else its key) and `for_who` (" for " and `who`, or nothing when no team is named).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block, SectionBlock

from integrations.slack.action_ids import ActionId, InputId, modal_metadata
from integrations.slack.blocks import clip_mrkdwn, mrkdwn_text
from integrations.slack.modal_parts import modal_view, text_input


@dataclass(frozen=True)
class ReasonModal:
    """One reason modal: opened by `callback`'s button, its box under `box`, its words."""

    callback: ActionId
    title: str
    submit: str
    box: InputId
    label: str
    hint: str
    intro: str | None = None


# A sign-off member says why they reject the change.
REJECT = ReasonModal(
    ActionId.REJECT,
    "Reject the change",
    "Reject",
    InputId.REASON,
    "Why do you reject it?",
    "The requester and the expert see this reason.",
    "You are rejecting *{key}* for {who}, round {round}.",
)
# A sign-off member says what should change before they can approve.
CHANGES = ReasonModal(
    ActionId.CHANGES,
    "Request changes",
    "Send back",
    InputId.FEEDBACK,
    "What should change?",
    "Be specific: the expert revises the assessment from this.",
    "*{key}* goes back to the expert with your feedback on behalf of {who}.",
)
# Anyone on the request asks the requester on Jira; the request waits for the answer.
ASK = ReasonModal(
    ActionId.ASK,
    "Ask the requester",
    "Ask",
    InputId.QUESTION,
    "Your question",
    "Posted on the Jira issue, mentioning the requester. The request and its "
    "SLA clocks pause until they answer there.",
)
# The SOP owner says why the update goes back to expert review.
SEND_BACK = ReasonModal(
    ActionId.SOP_SEND_BACK,
    "Send back",
    "Send back",
    InputId.REASON,
    "Why does it go back?",
    "The expert, the approvers and the requester see this reason.",
    "*{key}* goes back to expert review{for_who}; nothing is published. The expert revises "
    "the assessment and sign-off starts again.",
)


def reason_modal(
    modal: ReasonModal,
    jira_key: str,
    round: int,
    *,
    team: str | None = None,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """`modal` for `jira_key`'s `round`, tied to `team` (if given) and the card it came from."""
    blocks: list[Block] = []
    if modal.intro is not None:
        name = team_name or team
        who = clip_mrkdwn(name, 200) if name else ""
        intro = modal.intro.format(
            key=clip_mrkdwn(jira_key, 100),
            round=round,
            who=who,
            for_who=f" for {who}" if name else "",
        )
        blocks.append(SectionBlock(text=mrkdwn_text(intro)))
    blocks.append(text_input(modal.box, modal.label, hint=modal.hint))
    metadata = modal_metadata(
        jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts
    )
    return modal_view(modal.callback, modal.title, modal.submit, blocks, metadata)
