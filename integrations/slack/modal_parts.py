"""The pieces every govflow modal is built from: the view itself, text boxes and selects.

Each modal's `callback_id` is the `ActionId` of the button that opens it, and its
`private_metadata` (`modal_metadata`) ties the submission back to the request, round, team
and the card it was opened from (Slack does not say which message a modal came from). Input
block ids are `InputId`s, which `interaction_events.event_from_submission` reads and under
which `modal_inputs.SubmissionErrors` are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from domain.assessment import MAX_TEXT
from integrations.slack.action_ids import ActionId, InputId
from integrations.slack.blocks import clip, plain_text

# Slack: an option label holds 75 characters and its value 150; a modal title 24.
OPTION_TEXT = 75
OPTION_VALUE = 150
TITLE_TEXT = 24
# The example in the boxes that take the proposed-change format (assessment and SOP edit).
CHANGE_PLACEHOLDER = "### 4.2 Counterfeit indicators, then the new text of 4.2"
_E = TypeVar("_E", bound=StrEnum)


def modal_view(
    callback: ActionId, title: str, submit: str, blocks: list[Block], metadata: str
) -> dict[str, Any]:
    """A modal `views.open` accepts: title, submit and Cancel, opened by `callback`'s button."""
    view = View(
        type="modal",
        callback_id=callback.value,
        title=plain_text(title, TITLE_TEXT),
        submit=plain_text(submit, TITLE_TEXT),
        close=plain_text("Cancel", TITLE_TEXT),
        blocks=blocks,
        private_metadata=metadata,
    )
    return view.to_dict()


def text_input(
    input_id: InputId,
    label: str,
    initial: str = "",
    *,
    optional: bool = False,
    hint: str = "",
    placeholder: str = "",
) -> InputBlock:
    """A multiline text box under `input_id`, prefilled with `initial` (clipped to fit)."""
    element = PlainTextInputElement(
        action_id=input_id.value,
        multiline=True,
        max_length=MAX_TEXT,
        # An initial value longer than max_length would make Slack refuse the whole view.
        initial_value=clip(initial, MAX_TEXT) if initial.strip() else None,
        placeholder=plain_text(placeholder, 150) if placeholder else None,
    )
    return InputBlock(
        block_id=input_id.value,
        label=plain_text(label, 2000),
        element=element,
        optional=optional,
        hint=plain_text(hint, 2000) if hint else None,
    )


def option(value: str, label: str) -> Option:
    """A select option, value and label clipped to Slack's limits."""
    return Option(value=value[:OPTION_VALUE], text=plain_text(label, OPTION_TEXT))


def select(
    input_id: InputId, label: str, choices: Mapping[_E, str], initial: _E | None
) -> InputBlock:
    """A single select under `input_id` offering `choices` (value -> label), `initial` chosen."""
    options = {key: option(str(key), text) for key, text in choices.items()}
    element = StaticSelectElement(
        action_id=input_id.value,
        options=list(options.values()),
        initial_option=options.get(initial) if initial is not None else None,
        placeholder=plain_text("Choose…", 150),
    )
    return InputBlock(block_id=input_id.value, label=plain_text(label, 2000), element=element)
