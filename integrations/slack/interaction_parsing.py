"""A govflow button click or modal submission, parsed from Slack's interaction payload.

Parsing is total: on any input the parsers answer with a value or `PayloadInvalid`
(`payload_fields` reads each field), and `dedupe_key` always fits an event id (255).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import PayloadInvalid
from integrations.slack.action_ids import MODAL_CALLBACKS, TEAM_ACTIONS, ActionId
from integrations.slack.payload_fields import (
    CHANNEL_ID,
    JIRA_KEY,
    SOP_REF,
    TEAM_KEY,
    TRIGGER_ID,
    TS,
    URL,
    USER_ID,
    VALUE_MAX,
    VIEW_HASH,
    VIEW_ID,
    WORKSPACE_ID,
    action_from,
    as_mapping,
    as_string,
    decode_json,
    optional_entry,
    optional_id,
    optional_mapping,
    required_id,
    round_number,
    show,
)
from integrations.text import clean_text

_NAME_MAX = 120


@dataclass(frozen=True)
class ButtonClick:
    """A click on one of govflow's buttons, as Slack reported it."""

    action: ActionId
    jira_key: str
    round: int
    team: str | None
    on_behalf_of: str | None
    user_id: str
    team_id: str | None
    trigger_id: str
    response_url: str | None
    channel_id: str | None
    message_ts: str | None
    action_ts: str
    user_name: str = ""
    sop_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        """The click's identity: the same across Slack's redeliveries, new for a new click."""
        # Slack redelivers the very same payload, so every part here repeats; `action_ts` is
        # stamped by Slack when the button was pressed, so a second press is a second key
        # (the domain's one-decision-per-member rule deals with double clicks).
        return f"slack:{self.user_id}:{self.action}:{self.action_ts}:{self.jira_key}"


@dataclass(frozen=True)
class ModalSubmission:
    """A submitted govflow modal: what it was about and the raw input values."""

    callback: ActionId
    jira_key: str
    round: int
    team: str | None
    user_id: str
    view_id: str
    view_hash: str
    values: dict[str, Any] = field(compare=False)
    channel_id: str | None
    message_ts: str | None
    team_id: str | None = None
    user_name: str = ""
    sop_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        """The submission's identity: the same across Slack's redeliveries of it."""
        # A redelivery repeats the payload, view id and hash included; the hash changes
        # whenever the view is updated, and a view is submitted once. One caveat: a
        # submission answered with `response_action: errors` leaves the view open unchanged,
        # so its corrected resubmission carries the same key. That is sound only because a
        # refused submission records nothing: record the key after the event is accepted.
        return f"slack:view:{self.view_id}:{self.view_hash}"


def decode_form_payload(form: Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON object in an interactivity form's `payload` field, or PayloadInvalid."""
    raw = form.get("payload") if isinstance(form, Mapping) else None
    if not isinstance(raw, str):
        raise PayloadInvalid("an interactivity request carries its payload in a `payload` field")
    decoded = decode_json(raw, "payload", limit=1_000_000)
    if not isinstance(decoded, Mapping):
        raise PayloadInvalid("the interaction payload is not a JSON object")
    return decoded


def parse_interaction(payload: Mapping[str, Any]) -> ButtonClick | ModalSubmission:
    """A govflow button click or modal submission from Slack's decoded `payload` JSON."""
    if not isinstance(payload, Mapping):
        raise PayloadInvalid("the interaction payload is not a JSON object")
    kind = payload.get("type")
    if kind == "block_actions":
        return _click(payload)
    if kind == "view_submission":
        return _submission(payload)
    raise PayloadInvalid(f"govflow does not handle {show(kind)} interactions")


def _click(payload: Mapping[str, Any]) -> ButtonClick:
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadInvalid("a block_actions payload lists the action taken in `actions`")
    # Slack sends one action per block_actions payload.
    action_item = as_mapping(actions[0], "actions[0]")
    action = action_from(action_item.get("action_id"), "actions[0].action_id")
    raw = as_string(action_item.get("value"), "the button value")
    value = decode_json(raw, "the button value", limit=VALUE_MAX)
    value = as_mapping(value, "the button value")
    team = optional_id(value.get("t"), TEAM_KEY, "the button's team")
    on_behalf_of = optional_entry(value.get("o"), "the button's on-behalf-of entry")
    if action in TEAM_ACTIONS and team is None:
        raise PayloadInvalid(f"a {action} button names its sign-off team")
    if action is ActionId.APPROVE_FOR and on_behalf_of is None:
        raise PayloadInvalid("an Approve-for button names whom it approves for")
    sop = optional_id(value.get("s"), SOP_REF, "the button's SOP id")
    if action is ActionId.SOP_EDIT and sop is None:
        raise PayloadInvalid("an Edit button names the SOP whose draft it edits")
    user = as_mapping(payload.get("user"), "user")
    container = optional_mapping(payload.get("container"), "container")
    channel = optional_mapping(payload.get("channel"), "channel")
    message = optional_mapping(payload.get("message"), "message")
    return ButtonClick(
        action=action,
        jira_key=required_id(value.get("k"), JIRA_KEY, "the button's Jira key"),
        round=round_number(value.get("r"), "the button's round"),
        team=team,
        on_behalf_of=on_behalf_of,
        user_id=required_id(user.get("id"), USER_ID, "user.id"),
        team_id=_workspace(payload, user),
        trigger_id=required_id(payload.get("trigger_id"), TRIGGER_ID, "trigger_id"),
        response_url=optional_id(payload.get("response_url"), URL, "response_url"),
        channel_id=optional_id(
            container.get("channel_id") or channel.get("id"), CHANNEL_ID, "the channel id"
        ),
        message_ts=optional_id(
            container.get("message_ts") or message.get("ts"), TS, "the message ts"
        ),
        action_ts=required_id(action_item.get("action_ts"), TS, "actions[0].action_ts"),
        user_name=_name(user),
        sop_id=sop,
    )


def _submission(payload: Mapping[str, Any]) -> ModalSubmission:
    view = as_mapping(payload.get("view"), "view")
    callback = action_from(view.get("callback_id"), "view.callback_id")
    if callback not in MODAL_CALLBACKS:
        raise PayloadInvalid(f"govflow has no modal {callback}")
    metadata = decode_json(
        as_string(view.get("private_metadata"), "view.private_metadata"), "metadata"
    )
    metadata = as_mapping(metadata, "view.private_metadata")
    team = optional_id(metadata.get("t"), TEAM_KEY, "the modal's team")
    if callback in TEAM_ACTIONS and team is None:
        raise PayloadInvalid(f"a {callback} modal names its sign-off team")
    sop = optional_id(metadata.get("s"), SOP_REF, "the modal's SOP id")
    if callback is ActionId.SOP_EDIT and sop is None:
        raise PayloadInvalid("an edit modal names the SOP whose draft it edits")
    state = as_mapping(view.get("state"), "view.state")
    values = as_mapping(state.get("values"), "view.state.values")
    user = as_mapping(payload.get("user"), "user")
    return ModalSubmission(
        callback=callback,
        jira_key=required_id(metadata.get("k"), JIRA_KEY, "the modal's Jira key"),
        round=round_number(metadata.get("r"), "the modal's round"),
        team=team,
        user_id=required_id(user.get("id"), USER_ID, "user.id"),
        view_id=required_id(view.get("id"), VIEW_ID, "view.id"),
        view_hash=required_id(view.get("hash"), VIEW_HASH, "view.hash"),
        values=dict(values),
        channel_id=optional_id(metadata.get("c"), CHANNEL_ID, "the modal's channel"),
        message_ts=optional_id(metadata.get("m"), TS, "the modal's message ts"),
        team_id=_workspace(payload, user),
        user_name=_name(user),
        sop_id=sop,
    )


def _workspace(payload: Mapping[str, Any], user: Mapping[str, Any]) -> str | None:
    """The workspace id: `team.id`, else the user's `team_id` (org-wide installs omit one)."""
    team = payload.get("team")
    found = team.get("id") if isinstance(team, Mapping) else None
    return optional_id(found or user.get("team_id"), WORKSPACE_ID, "the workspace id")


def _name(user: Mapping[str, Any]) -> str:
    """The user's handle for display only (never identity), bounded; "" when absent."""
    for key in ("name", "username"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return clean_text(value).strip()[:_NAME_MAX]
    return ""
