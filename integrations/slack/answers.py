"""Answering one person in Slack: the ephemeral message, and the words that confirm a click.

An ephemeral goes into the card's channel (`chat.postEphemeral`) and, when that is not
possible, through the interaction's `response_url`; a failure is logged, never raised: the
answer is a courtesy, what was recorded stands.
"""

from __future__ import annotations

import logging
from http.client import HTTPException

from slack_sdk.webhook import WebhookClient

from domain.errors import SlackError
from integrations.slack.action_ids import ActionId
from integrations.slack.port import SlackPort

log = logging.getLogger(__name__)

# What an ephemeral message may say; Slack's own limit is far above.
MAX_TEXT = 2000

_DONE: dict[ActionId, str] = {
    ActionId.CLAIM: "Your claim",
    ActionId.ASSESS: "Your assessment",
    ActionId.ASK: "Your question to the requester",
    ActionId.APPROVE: "Your approval",
    ActionId.APPROVE_FOR: "Your approval on behalf of your colleague",
    ActionId.REJECT: "Your rejection",
    ActionId.CHANGES: "Your request for changes",
    ActionId.SOP_PUBLISH: "Your publication",
    ActionId.SOP_EDIT: "Your edit of the draft",
    ActionId.SOP_SEND_BACK: "Sending the SOP update back",
}


def confirmation(action: ActionId, jira_key: str) -> str:
    """The ephemeral telling someone their click or form was recorded."""
    return f"{_DONE.get(action, 'Your action')} on {jira_key} is recorded."


def tell(
    slack: SlackPort, user_id: str, channel_id: str | None, response_url: str | None, text: str
) -> None:
    """An ephemeral message to one person: in the channel, else through response_url."""
    if channel_id:
        try:
            slack.post_ephemeral(channel_id, user_id, text[:MAX_TEXT])
            return
        except SlackError as exc:
            if response_url is None:
                log.warning("could not tell %s in %s: %s", user_id, channel_id, exc)
                return
    if response_url:
        respond(response_url, text)


def respond(response_url: str, text: str) -> None:
    """An ephemeral answer through an interaction's `response_url`."""
    try:
        answer = WebhookClient(response_url, timeout=5).send(
            text=text[:MAX_TEXT], response_type="ephemeral", replace_original=False
        )
    except (OSError, HTTPException, ValueError) as exc:
        log.warning("response_url post failed: %r", exc)
        return
    if answer.status_code != 200:
        log.warning("response_url answered %s: %s", answer.status_code, answer.body[:200])
