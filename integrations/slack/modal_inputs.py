"""What a submitted modal's inputs say, validated: its texts and choices, and the assessment
form, with every problem placed under the input a person must correct (`SubmissionErrors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from domain.assessment import MAX_SOPS, MAX_TEXT, Assessment, Recommendation, Risk
from domain.errors import PayloadInvalid, ProposedChangeInvalid
from domain.people import Person
from domain.sop_change import parse_proposed_change
from integrations.slack.action_ids import InputId
from integrations.slack.payload_fields import SOP_ID, as_mapping, bounded, first_error, show
from integrations.text import clean_text


class SubmissionErrors(PayloadInvalid):
    """A modal submission a person must correct: messages by the block id they belong to.

    The receiver answers `{"response_action": "errors", "errors": exc.errors}`.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{block}: {message}" for block, message in self.errors.items()))


# Which input shows an Assessment field's validation error.
_FIELD_INPUT = {
    "recommendation": InputId.RECOMMENDATION,
    "risk": InputId.RISK,
    "proposed_change": InputId.PROPOSED_CHANGE,
    "affected_sops": InputId.AFFECTED_SOPS,
    "rationale": InputId.RATIONALE,
    "example_passes": InputId.EXAMPLE_PASSES,
    "example_fails": InputId.EXAMPLE_FAILS,
}


def assessment_from_form(values: Mapping[str, Any], actor: Person, at: datetime) -> Assessment:
    """The Assessment the form describes, or SubmissionErrors naming every input to fix."""
    errors: dict[str, str] = {}
    recommendation = _enum(values, InputId.RECOMMENDATION, Recommendation)
    risk = _enum(values, InputId.RISK, Risk)
    change = _text(values, InputId.PROPOSED_CHANGE)
    sops = _choices(values, InputId.AFFECTED_SOPS)
    rationale = _text(values, InputId.RATIONALE)
    passes = _text(values, InputId.EXAMPLE_PASSES)
    fails = _text(values, InputId.EXAMPLE_FAILS)
    if recommendation is None:
        errors[InputId.RECOMMENDATION] = "Choose a recommendation"
    if risk is None:
        errors[InputId.RISK] = "Choose a risk level"
    if not rationale:
        errors[InputId.RATIONALE] = (
            "Give your reasons (for Needs info: the question for the requester)"
        )
    if len(sops) > MAX_SOPS:
        errors[InputId.AFFECTED_SOPS] = f"Choose at most {MAX_SOPS} SOPs"
    typed = (
        (InputId.PROPOSED_CHANGE, change),
        (InputId.RATIONALE, rationale),
        (InputId.EXAMPLE_PASSES, passes),
        (InputId.EXAMPLE_FAILS, fails),
    )
    for input_id, text in typed:
        if len(text) > MAX_TEXT:
            errors[input_id] = f"Keep it within {MAX_TEXT} characters"
    if recommendation is Recommendation.PROCEED:
        if not sops:
            errors.setdefault(InputId.AFFECTED_SOPS, "Choose at least one affected SOP")
        if not change:
            errors[InputId.PROPOSED_CHANGE] = (
                "Say what changes: numbered section edits, or @replace and the whole text"
            )
        elif InputId.PROPOSED_CHANGE not in errors:
            problem = change_problem(change)
            if problem:
                errors[InputId.PROPOSED_CHANGE] = problem
    if errors:
        raise SubmissionErrors(errors)
    try:
        return Assessment(
            recommendation=recommendation,
            risk=risk,
            proposed_change=change,
            affected_sops=tuple(sops),
            rationale=rationale,
            example_passes=passes,
            example_fails=fails,
            author=actor,
            submitted_at=at,
        )
    except ValidationError as exc:
        placed = _assessment_errors(exc)
        if placed is None:
            # Not about anything typed (the author, the time): a caller's mistake, not the user's.
            raise PayloadInvalid(f"the assessment is invalid: {first_error(exc)}") from exc
        raise SubmissionErrors(placed) from exc


def change_problem(change: str) -> str | None:
    """What is wrong with the proposed change's format, worded for the modal, if anything."""
    try:
        parse_proposed_change(change)
    except ProposedChangeInvalid as exc:
        return bounded("; ".join(p.render() for p in exc.problems), 500)
    return None


def _assessment_errors(exc: ValidationError) -> dict[str, str] | None:
    """The domain's validation errors under the inputs they concern; None if one is no input's."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        loc = error.get("loc", ())
        top = str(loc[0]) if loc else ""
        input_id = _FIELD_INPUT.get(top)
        if top and input_id is None:
            return None
        if input_id is None:
            # Whole-model rules name their field in words, not in `loc`.
            lowered = message.lower()
            if "proposed change" in lowered:
                input_id = InputId.PROPOSED_CHANGE
            elif "sop" in lowered:
                input_id = InputId.AFFECTED_SOPS
            else:
                input_id = InputId.RATIONALE
        errors.setdefault(input_id, bounded(message, 500))
    return errors


_E = TypeVar("_E", bound=StrEnum)


def _state(values: Mapping[str, Any], input_id: InputId) -> Mapping[str, Any] | None:
    """The state of the input `input_id` (block and action share the id); None if absent."""
    block = values.get(input_id.value)
    if block is None:
        return None
    action = as_mapping(block, f"the {input_id} block").get(input_id.value)
    if action is None:
        return None
    return as_mapping(action, f"the {input_id} input")


def _text(values: Mapping[str, Any], input_id: InputId) -> str:
    """A text input's value, stripped; "" when left empty."""
    state = _state(values, input_id)
    value = state.get("value") if state is not None else None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"the {input_id} input's value is not text")
    # A forged value far past Slack's max_length is not worth stripping.
    if len(value) > 4 * MAX_TEXT:
        raise SubmissionErrors({input_id: f"Keep it within {MAX_TEXT} characters"})
    return clean_text(value).strip()


def required_text(values: Mapping[str, Any], input_id: InputId, missing: str) -> str:
    """A text input that must be filled, within MAX_TEXT; SubmissionErrors otherwise."""
    text = _text(values, input_id)
    if not text:
        raise SubmissionErrors({input_id: missing})
    if len(text) > MAX_TEXT:
        raise SubmissionErrors({input_id: f"Keep it within {MAX_TEXT} characters"})
    return text


def _enum(values: Mapping[str, Any], input_id: InputId, kind: type[_E]) -> _E | None:
    """A static select's chosen option as `kind`; None when nothing is chosen."""
    state = _state(values, input_id)
    option = state.get("selected_option") if state is not None else None
    if option is None:
        return None
    value = as_mapping(option, f"the {input_id} option").get("value")
    if not isinstance(value, str) or value not in {member.value for member in kind}:
        raise PayloadInvalid(f"{show(value)} is not a choice of the {input_id} input")
    return kind(value)


def _choices(values: Mapping[str, Any], input_id: InputId) -> list[str]:
    """A multi-select's chosen values, or the ids typed into its plain-text stand-in."""
    state = _state(values, input_id)
    if state is None:
        return []
    selected = state.get("selected_options")
    if selected is None:
        # With no SOPs to offer, the modal asks for ids as text: "SOP-LST-001, SOP-LST-002".
        typed = _text(values, input_id)
        return [part for part in re.split(r"[\s,;]+", typed) if part][: MAX_SOPS + 1]
    if not isinstance(selected, list) or len(selected) > 100:
        raise PayloadInvalid(f"the {input_id} input's selection is not a list of options")
    chosen: list[str] = []
    for option in selected:
        value = as_mapping(option, f"an {input_id} option").get("value")
        if not isinstance(value, str) or not SOP_ID.fullmatch(value):
            raise PayloadInvalid(f"{show(value)} is not an SOP id")
        chosen.append(value)
    return chosen
