"""The lifecycle event a click or modal submission records, and the check that its card is current.

`ensure_current` refuses a click or submission made on a card of an earlier sign-off round
(the domain's `Decide` has no round: without this check a stale round-1 button would count
in round 2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.errors import InvalidTransition, PayloadInvalid
from domain.lifecycle import (
    AskRequester,
    Claim,
    Decide,
    EditDraft,
    Event,
    PublishSop,
    RequestState,
    SendBack,
    SubmitAssessment,
)
from domain.people import Person, person_from_entry
from domain.signoff import Verdict
from integrations.slack.action_ids import OPENS_MODAL, ROUND_BOUND, SOP_ACTIONS, ActionId, InputId
from integrations.slack.interaction_parsing import ButtonClick, ModalSubmission
from integrations.slack.modal_inputs import (
    SubmissionErrors,
    assessment_from_form,
    change_problem,
    required_text,
)
from integrations.slack.payload_fields import first_error


def event_from_click(click: ButtonClick, actor: Person, at: datetime) -> Event | None:
    """The lifecycle event a click records, or None when the click only opens a modal."""
    if click.action in OPENS_MODAL:
        return None
    _check_actor(actor, click.user_id)
    meta: dict[str, Any] = {"event_id": click.dedupe_key, "actor": actor, "at": at}
    try:
        if click.action is ActionId.CLAIM:
            return Claim.model_validate(meta)
        if click.action is ActionId.SOP_PUBLISH:
            return PublishSop.model_validate(meta)
        on_behalf_of = None
        if click.action is ActionId.APPROVE_FOR:
            if click.on_behalf_of is None:
                raise PayloadInvalid("an Approve-for button names whom it approves for")
            on_behalf_of = person_from_entry(click.on_behalf_of)
        return Decide.model_validate(
            {**meta, "team": click.team, "verdict": Verdict.APPROVE, "on_behalf_of": on_behalf_of}
        )
    except ValidationError as exc:
        raise PayloadInvalid(f"the click does not make an event: {first_error(exc)}") from exc


def event_from_submission(sub: ModalSubmission, actor: Person, at: datetime) -> Event:
    """The lifecycle event a modal submission records; SubmissionErrors if it needs fixing."""
    _check_actor(actor, sub.user_id)
    meta: dict[str, Any] = {"event_id": sub.dedupe_key, "actor": actor, "at": at}
    if sub.callback is ActionId.ASSESS:
        assessment = assessment_from_form(sub.values, actor, at)
        return _event(SubmitAssessment, {**meta, "assessment": assessment})
    if sub.callback is ActionId.ASK:
        question = required_text(sub.values, InputId.QUESTION, "Write the question")
        return _event(AskRequester, {**meta, "question": question})
    if sub.callback is ActionId.SOP_EDIT:
        change = required_text(sub.values, InputId.DRAFT, "Write the sections as they should read")
        problem = change_problem(change)
        if problem:
            raise SubmissionErrors({InputId.DRAFT: problem})
        return _event(EditDraft, {**meta, "sop_id": sub.sop_id, "change": change})
    if sub.callback is ActionId.SOP_SEND_BACK:
        reason = required_text(sub.values, InputId.REASON, "Say why it goes back to the expert")
        return _event(SendBack, {**meta, "reason": reason})
    if sub.callback is ActionId.REJECT:
        reason = required_text(sub.values, InputId.REASON, "Say why you reject it")
        verdict = Verdict.REJECT
    elif sub.callback is ActionId.CHANGES:
        reason = required_text(sub.values, InputId.FEEDBACK, "Say what should change")
        verdict = Verdict.REQUEST_CHANGES
    else:
        raise PayloadInvalid(f"govflow has no modal {sub.callback}")
    return _event(Decide, {**meta, "team": sub.team, "verdict": verdict, "reason": reason})


def ensure_current(interaction: ButtonClick | ModalSubmission, state: RequestState) -> None:
    """Raise InvalidTransition when a round-bound click or modal shows an earlier round.

    Claiming and asking mean the same whatever round the card showed; an assessment or a
    decision was made on what the card showed, so it must be the round now open.
    """
    action = interaction.action if isinstance(interaction, ButtonClick) else interaction.callback
    if action not in ROUND_BOUND or interaction.round == state.round:
        return
    if action is ActionId.ASSESS:
        raise InvalidTransition(
            f"{state.key} moved on since this form was opened; open it again from the card"
        )
    if action in SOP_ACTIONS:
        raise InvalidTransition(
            f"This SOP update card is for the drafts approved in round {interaction.round} of "
            f"{state.key}; they changed since (round {state.round} now), so use the newer card"
        )
    raise InvalidTransition(
        f"This card is for sign-off round {interaction.round} of {state.key}, and round "
        f"{state.round} is open now: use the newer card"
    )


def _check_actor(actor: Person, user_id: str) -> None:
    # The receiver resolves the clicker into a Person; another Slack id means a wiring bug.
    if actor.slack_id is not None and actor.slack_id != user_id:
        raise PayloadInvalid("the actor given is not the Slack user who acted")


def _event(model: Any, data: dict[str, Any]) -> Event:
    try:
        event: Event = model.model_validate(data)
    except ValidationError as exc:
        raise PayloadInvalid(f"the submission does not make an event: {first_error(exc)}") from exc
    return event
