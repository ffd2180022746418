"""The modals that ask one person why, in one required box: reject, request changes, ask the
requester, send an SOP update back to expert review."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import SectionBlock

from integrations.slack.action_ids import ActionId, InputId, modal_metadata
from integrations.slack.blocks import clip_mrkdwn, mrkdwn_text
from integrations.slack.modal_parts import modal_view, text_input


def reject_modal(
    jira_key: str,
    team: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask a sign-off member why they reject the change (required)."""
    who = clip_mrkdwn(team_name or team, 200)
    intro = f"You are rejecting *{clip_mrkdwn(jira_key, 100)}* for {who}, round {round}."
    return modal_view(
        ActionId.REJECT,
        "Reject the change",
        "Reject",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            text_input(
                InputId.REASON,
                "Why do you reject it?",
                hint="The requester and the expert see this reason.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def changes_modal(
    jira_key: str,
    team: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask a sign-off member what should change before they can approve (required)."""
    who = clip_mrkdwn(team_name or team, 200)
    intro = (
        f"*{clip_mrkdwn(jira_key, 100)}* goes back to the expert with your feedback "
        f"on behalf of {who}."
    )
    return modal_view(
        ActionId.CHANGES,
        "Request changes",
        "Send back",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            text_input(
                InputId.FEEDBACK,
                "What should change?",
                hint="Be specific: the expert revises the assessment from this.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def ask_modal(
    jira_key: str,
    round: int,
    team: str | None = None,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask the requester a question on Jira (required); the request waits for the answer."""
    return modal_view(
        ActionId.ASK,
        "Ask the requester",
        "Ask",
        [
            text_input(
                InputId.QUESTION,
                "Your question",
                hint="Posted on the Jira issue, mentioning the requester. The request and its "
                "SLA clocks pause until they answer there.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def send_back_modal(
    jira_key: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask the SOP owner why the update goes back to expert review (required)."""
    who = f" for {clip_mrkdwn(team_name, 200)}" if team_name else ""
    intro = (
        f"*{clip_mrkdwn(jira_key, 100)}* goes back to expert review{who}; nothing is "
        "published. The expert revises the assessment and sign-off starts again."
    )
    return modal_view(
        ActionId.SOP_SEND_BACK,
        "Send back",
        "Send back",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            text_input(
                InputId.REASON,
                "Why does it go back?",
                hint="The expert, the approvers and the requester see this reason.",
            ),
        ],
        modal_metadata(jira_key, round, channel_id=channel_id, message_ts=message_ts),
    )
