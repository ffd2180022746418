"""The wire contract of govflow's Slack buttons and modals: their ids and the values they carry.

Everything the renderers (`*_card`, `modals`) put on the wire and the receiver reads back is
defined here, so the two sides cannot drift:

- `ActionId`: the `action_id` of every button, and the `callback_id` of the modal a button
  opens (Bolt keeps `app.action(...)` and `app.view(...)` apart, so sharing names is safe).
- `InputId`: the `block_id` and `action_id` (always equal) of every modal input; the keys of
  `SubmissionErrors.errors`, which Slack shows under the input with that block id.
- `button_value` / `modal_metadata`: compact JSON, `{"k": jira_key, "r": round}` plus
  `"t": team` on sign-off buttons, `"o": roster entry` on "Approve for" buttons, and
  `"c": channel, "m": message_ts` (the card the modal was opened from) in modal metadata,
  and `"s": SOP id` on the SOP update card's Edit buttons and in the edit modal.
"""

from __future__ import annotations

import json
from enum import StrEnum


class ActionId(StrEnum):
    """Button action ids, which double as the callback ids of the modals they open."""

    CLAIM = "govflow.claim"
    ASSESS = "govflow.assess"
    ASK = "govflow.ask"
    APPROVE = "govflow.approve"
    APPROVE_FOR = "govflow.approve_for"
    REJECT = "govflow.reject"
    CHANGES = "govflow.changes"
    SOP_PUBLISH = "govflow.sop_publish"
    SOP_EDIT = "govflow.sop_edit"
    SOP_SEND_BACK = "govflow.sop_send_back"


class InputId(StrEnum):
    """Block ids (and action ids) of modal inputs."""

    RECOMMENDATION = "recommendation"
    RISK = "risk"
    PROPOSED_CHANGE = "proposed_change"
    AFFECTED_SOPS = "affected_sops"
    RATIONALE = "rationale"
    REASON = "reason"
    FEEDBACK = "feedback"
    QUESTION = "question"
    DRAFT = "draft"
    EXAMPLE_PASSES = "example_passes"
    EXAMPLE_FAILS = "example_fails"


# Buttons that only open a modal: the event comes with the modal's submission.
OPENS_MODAL = frozenset(
    {
        ActionId.ASSESS,
        ActionId.REJECT,
        ActionId.CHANGES,
        ActionId.ASK,
        ActionId.SOP_EDIT,
        ActionId.SOP_SEND_BACK,
    }
)
# Modals that exist, by callback id.
MODAL_CALLBACKS = OPENS_MODAL
# Buttons and modals that act for one sign-off team and must name it.
TEAM_ACTIONS = frozenset(
    {ActionId.APPROVE, ActionId.APPROVE_FOR, ActionId.REJECT, ActionId.CHANGES}
)
# Those whose effect depends on the round the card showed (see `ensure_current`).
ROUND_BOUND = frozenset(
    {
        ActionId.ASSESS,
        ActionId.APPROVE,
        ActionId.APPROVE_FOR,
        ActionId.REJECT,
        ActionId.CHANGES,
        ActionId.SOP_PUBLISH,
        ActionId.SOP_EDIT,
        ActionId.SOP_SEND_BACK,
    }
)
# The SOP update card's buttons and modals, which act on the drafts of the card's round.
SOP_ACTIONS = frozenset({ActionId.SOP_PUBLISH, ActionId.SOP_EDIT, ActionId.SOP_SEND_BACK})


def button_value(
    jira_key: str,
    round: int,
    *,
    team: str | None = None,
    on_behalf_of: str | None = None,
    sop: str | None = None,
) -> str:
    """The compact JSON a govflow button carries: {"k", "r"} and, if given, "t", "o", "s"."""
    value: dict[str, str | int] = {"k": jira_key, "r": round}
    for name, given in (("t", team), ("o", on_behalf_of), ("s", sop)):
        if given is not None:
            value[name] = given
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def modal_metadata(
    jira_key: str,
    round: int,
    *,
    team: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    sop: str | None = None,
) -> str:
    """The compact JSON `private_metadata` of a govflow modal: {"k", "r"} and "t", "c", "m", "s"."""
    value: dict[str, str | int] = {"k": jira_key, "r": round}
    for name, given in (("t", team), ("c", channel_id), ("m", message_ts), ("s", sop)):
        if given is not None:
            value[name] = given
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
