"""Re-exports of govflow's Slack wire contract and parsers, kept for their many callers.

About thirty modules (tests, the bench, the stand-ins' tools) import these names from here.
Each concept is its own module now; new code imports from those:

- `action_ids`: button action ids, modal input ids, `button_value` and `modal_metadata`;
- `payload_fields`: the formats accepted from a payload and the total field readers;
- `interaction_parsing`: `ButtonClick`, `ModalSubmission` and `parse_interaction`;
- `modal_inputs`: a submitted modal's inputs, validated, and `SubmissionErrors`;
- `interaction_events`: the lifecycle event a click or submission records, `ensure_current`;
- `slash_command`: `/govflow ooo|status|help`.
"""

from __future__ import annotations

from integrations.slack.action_ids import (
    MODAL_CALLBACKS,
    OPENS_MODAL,
    ROUND_BOUND,
    SOP_ACTIONS,
    TEAM_ACTIONS,
    ActionId,
    InputId,
    button_value,
    modal_metadata,
)
from integrations.slack.interaction_events import (
    ensure_current,
    event_from_click,
    event_from_submission,
)
from integrations.slack.interaction_parsing import (
    ButtonClick,
    ModalSubmission,
    decode_form_payload,
    parse_interaction,
)
from integrations.slack.modal_inputs import SubmissionErrors
from integrations.slack.payload_fields import MAX_ROUND
from integrations.slack.slash_command import (
    USAGE,
    SlashCommand,
    SlashKind,
    parse_slash_command,
)

__all__ = [
    "MAX_ROUND",
    "MODAL_CALLBACKS",
    "OPENS_MODAL",
    "ROUND_BOUND",
    "SOP_ACTIONS",
    "TEAM_ACTIONS",
    "USAGE",
    "ActionId",
    "ButtonClick",
    "InputId",
    "ModalSubmission",
    "SlashCommand",
    "SlashKind",
    "SubmissionErrors",
    "button_value",
    "decode_form_payload",
    "ensure_current",
    "event_from_click",
    "event_from_submission",
    "modal_metadata",
    "parse_interaction",
    "parse_slash_command",
]
