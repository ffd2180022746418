"""The wire contract of govflow's Slack buttons, modals and `/govflow`, and their parsers.

Everything the renderers (`cards`, `modals`) put on the wire and the receiver reads back is
defined here, so the two sides cannot drift:

- `ActionId`: the `action_id` of every button, and the `callback_id` of the modal a button
  opens (Bolt keeps `app.action(...)` and `app.view(...)` apart, so sharing names is safe).
- `InputId`: the `block_id` and `action_id` (always equal) of every modal input; the keys of
  `SubmissionErrors.errors`, which Slack shows under the input with that block id.
- `button_value` / `modal_metadata`: compact JSON, `{"k": jira_key, "r": round}` plus
  `"t": team` on sign-off buttons, `"o": roster entry` on "Approve for" buttons, and
  `"c": channel, "m": message_ts` (the card the modal was opened from) in modal metadata,
  and `"s": SOP id` on the SOP update card's Edit buttons and in the edit modal.

Parsing is total: on any input (missing keys, wrong types, huge strings, bad JSON, deep
nesting) the parsers answer with a value or `PayloadInvalid`, never another exception.
Identifiers are checked against their formats and bounded, so every string kept from a
payload is short, and `dedupe_key` always fits an event id (255).

`event_from_click` / `event_from_submission` turn what a person did into a lifecycle event;
`ensure_current` refuses a click or submission made on a card of an earlier sign-off round
(the domain's `Decide` has no round: without this check a stale round-1 button would count
in round 2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from domain.assessment import MAX_SOPS, MAX_TEXT, Assessment, Recommendation, Risk
from domain.errors import InvalidTransition, PayloadInvalid, ProposedChangeInvalid
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
from domain.sop import parse_proposed_change
from integrations.text import clean_text


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

# Formats of what we accept from a payload. ASCII classes throughout: `\d` would admit
# other scripts' digits. Every pattern is bounded, which bounds every string we keep.
_JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}")
_TEAM_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_WORKSPACE_ID = re.compile(r"[TE][A-Z0-9]{2,31}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
_VIEW_ID = re.compile(r"V[A-Z0-9]{2,63}")
_VIEW_HASH = re.compile(r"[A-Za-z0-9._-]{1,128}")
_TRIGGER_ID = re.compile(r"[A-Za-z0-9._-]{1,255}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}")
_URL = re.compile(r"https?://[!-~]{1,2000}")
_SOP_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SOP_REF = re.compile(r"SOP(?:-[A-Z0-9]{1,20}){1,3}")
_NAME_MAX = 120
MAX_ROUND = 10_000
# Slack's own caps: a button value holds 2000 characters, private_metadata 3000.
_VALUE_MAX = 2000
_METADATA_MAX = 3000


class SubmissionErrors(PayloadInvalid):
    """A modal submission a person must correct: messages by the block id they belong to.

    The receiver answers `{"response_action": "errors", "errors": exc.errors}`.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{block}: {message}" for block, message in self.errors.items()))


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


class SlashKind(StrEnum):
    """What `/govflow` was asked to do."""

    OOO = "ooo"
    STATUS = "status"
    HELP = "help"


@dataclass(frozen=True)
class SlashCommand:
    """A parsed `/govflow` command.

    `ooo`: the issuing user is away until `until` (inclusive) and `delegate_id` acts for
    them; `start` None means "from today", which the caller reads from its own clock.
    `status`: `jira_key` is the request asked about.
    """

    kind: SlashKind
    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    delegate_id: str | None = None
    start: date | None = None
    until: date | None = None
    jira_key: str | None = None


USAGE = "\n".join(
    [
        "Usage:",
        "• `/govflow ooo @colleague until 2026-12-24`: you are away until that date "
        "(inclusive) and @colleague decides for you meanwhile",
        "• `/govflow ooo @colleague from 2026-12-20 until 2026-12-24`: the same, starting later",
        "• `/govflow status MODREQ-12`: where a request stands",
        "• `/govflow help`: this text",
    ]
)


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


def decode_form_payload(form: Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON object in an interactivity form's `payload` field, or PayloadInvalid."""
    raw = form.get("payload") if isinstance(form, Mapping) else None
    if not isinstance(raw, str):
        raise PayloadInvalid("an interactivity request carries its payload in a `payload` field")
    decoded = _json(raw, "payload", limit=1_000_000)
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
    raise PayloadInvalid(f"govflow does not handle {_show(kind)} interactions")


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
        raise PayloadInvalid(f"the click does not make an event: {_first_error(exc)}") from exc


def event_from_submission(sub: ModalSubmission, actor: Person, at: datetime) -> Event:
    """The lifecycle event a modal submission records; SubmissionErrors if it needs fixing."""
    _check_actor(actor, sub.user_id)
    meta: dict[str, Any] = {"event_id": sub.dedupe_key, "actor": actor, "at": at}
    if sub.callback is ActionId.ASSESS:
        assessment = _assessment(sub.values, actor, at)
        return _event(SubmitAssessment, {**meta, "assessment": assessment})
    if sub.callback is ActionId.ASK:
        question = _required_text(sub.values, InputId.QUESTION, "Write the question")
        return _event(AskRequester, {**meta, "question": question})
    if sub.callback is ActionId.SOP_EDIT:
        change = _required_text(sub.values, InputId.DRAFT, "Write the sections as they should read")
        problem = _change_problem(change)
        if problem:
            raise SubmissionErrors({InputId.DRAFT: problem})
        return _event(EditDraft, {**meta, "sop_id": sub.sop_id, "change": change})
    if sub.callback is ActionId.SOP_SEND_BACK:
        reason = _required_text(sub.values, InputId.REASON, "Say why it goes back to the expert")
        return _event(SendBack, {**meta, "reason": reason})
    if sub.callback is ActionId.REJECT:
        reason = _required_text(sub.values, InputId.REASON, "Say why you reject it")
        verdict = Verdict.REJECT
    elif sub.callback is ActionId.CHANGES:
        reason = _required_text(sub.values, InputId.FEEDBACK, "Say what should change")
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


def parse_slash_command(form: Mapping[str, str]) -> SlashCommand:
    """`/govflow ooo|status|help` from Slack's slash-command form; PayloadInvalid with usage."""
    if not isinstance(form, Mapping):
        raise PayloadInvalid("a slash command arrives as a form")
    user_id = _id(form.get("user_id"), _USER_ID, "user_id")
    context: dict[str, Any] = {
        "user_id": user_id,
        "team_id": _optional_id(form.get("team_id"), _WORKSPACE_ID, "team_id"),
        "channel_id": _optional_id(form.get("channel_id"), _CHANNEL_ID, "channel_id"),
        "response_url": _optional_id(form.get("response_url"), _URL, "response_url"),
        "trigger_id": _optional_id(form.get("trigger_id"), _TRIGGER_ID, "trigger_id"),
    }
    text = form.get("text", "")
    if not isinstance(text, str) or len(text) > 500:
        raise PayloadInvalid(USAGE)
    words = text.split()
    verb = words[0].lower() if words else "help"
    if verb == "help" and len(words) <= 1:
        return SlashCommand(kind=SlashKind.HELP, **context)
    if verb == "status" and len(words) == 2:
        key = words[1].upper()
        if not _JIRA_KEY.fullmatch(key):
            raise PayloadInvalid(_usage(f"`{_echo(words[1])}` is not a Jira key like MODREQ-12"))
        return SlashCommand(kind=SlashKind.STATUS, jira_key=key, **context)
    if verb == "ooo":
        return _ooo(words[1:], context)
    raise PayloadInvalid(USAGE)


# --- clicks and submissions -------------------------------------------------------------


def _click(payload: Mapping[str, Any]) -> ButtonClick:
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadInvalid("a block_actions payload lists the action taken in `actions`")
    # Slack sends one action per block_actions payload.
    action_item = _mapping(actions[0], "actions[0]")
    action = _action_id(action_item.get("action_id"), "actions[0].action_id")
    raw = _string(action_item.get("value"), "the button value")
    value = _json(raw, "the button value", limit=_VALUE_MAX)
    value = _mapping(value, "the button value")
    team = _optional_id(value.get("t"), _TEAM_KEY, "the button's team")
    on_behalf_of = _optional_entry(value.get("o"), "the button's on-behalf-of entry")
    if action in TEAM_ACTIONS and team is None:
        raise PayloadInvalid(f"a {action} button names its sign-off team")
    if action is ActionId.APPROVE_FOR and on_behalf_of is None:
        raise PayloadInvalid("an Approve-for button names whom it approves for")
    sop = _optional_id(value.get("s"), _SOP_REF, "the button's SOP id")
    if action is ActionId.SOP_EDIT and sop is None:
        raise PayloadInvalid("an Edit button names the SOP whose draft it edits")
    user = _mapping(payload.get("user"), "user")
    container = _optional_mapping(payload.get("container"), "container")
    channel = _optional_mapping(payload.get("channel"), "channel")
    message = _optional_mapping(payload.get("message"), "message")
    return ButtonClick(
        action=action,
        jira_key=_id(value.get("k"), _JIRA_KEY, "the button's Jira key"),
        round=_round(value.get("r"), "the button's round"),
        team=team,
        on_behalf_of=on_behalf_of,
        user_id=_id(user.get("id"), _USER_ID, "user.id"),
        team_id=_workspace(payload, user),
        trigger_id=_id(payload.get("trigger_id"), _TRIGGER_ID, "trigger_id"),
        response_url=_optional_id(payload.get("response_url"), _URL, "response_url"),
        channel_id=_optional_id(
            container.get("channel_id") or channel.get("id"), _CHANNEL_ID, "the channel id"
        ),
        message_ts=_optional_id(
            container.get("message_ts") or message.get("ts"), _TS, "the message ts"
        ),
        action_ts=_id(action_item.get("action_ts"), _TS, "actions[0].action_ts"),
        user_name=_name(user),
        sop_id=sop,
    )


def _submission(payload: Mapping[str, Any]) -> ModalSubmission:
    view = _mapping(payload.get("view"), "view")
    callback = _action_id(view.get("callback_id"), "view.callback_id")
    if callback not in MODAL_CALLBACKS:
        raise PayloadInvalid(f"govflow has no modal {callback}")
    metadata = _json(_string(view.get("private_metadata"), "view.private_metadata"), "metadata")
    metadata = _mapping(metadata, "view.private_metadata")
    team = _optional_id(metadata.get("t"), _TEAM_KEY, "the modal's team")
    if callback in TEAM_ACTIONS and team is None:
        raise PayloadInvalid(f"a {callback} modal names its sign-off team")
    sop = _optional_id(metadata.get("s"), _SOP_REF, "the modal's SOP id")
    if callback is ActionId.SOP_EDIT and sop is None:
        raise PayloadInvalid("an edit modal names the SOP whose draft it edits")
    state = _mapping(view.get("state"), "view.state")
    values = _mapping(state.get("values"), "view.state.values")
    user = _mapping(payload.get("user"), "user")
    return ModalSubmission(
        callback=callback,
        jira_key=_id(metadata.get("k"), _JIRA_KEY, "the modal's Jira key"),
        round=_round(metadata.get("r"), "the modal's round"),
        team=team,
        user_id=_id(user.get("id"), _USER_ID, "user.id"),
        view_id=_id(view.get("id"), _VIEW_ID, "view.id"),
        view_hash=_id(view.get("hash"), _VIEW_HASH, "view.hash"),
        values=dict(values),
        channel_id=_optional_id(metadata.get("c"), _CHANNEL_ID, "the modal's channel"),
        message_ts=_optional_id(metadata.get("m"), _TS, "the modal's message ts"),
        team_id=_workspace(payload, user),
        user_name=_name(user),
        sop_id=sop,
    )


def _workspace(payload: Mapping[str, Any], user: Mapping[str, Any]) -> str | None:
    """The workspace id: `team.id`, else the user's `team_id` (org-wide installs omit one)."""
    team = payload.get("team")
    found = team.get("id") if isinstance(team, Mapping) else None
    return _optional_id(found or user.get("team_id"), _WORKSPACE_ID, "the workspace id")


def _name(user: Mapping[str, Any]) -> str:
    """The user's handle for display only (never identity), bounded; "" when absent."""
    for key in ("name", "username"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return clean_text(value).strip()[:_NAME_MAX]
    return ""


def _check_actor(actor: Person, user_id: str) -> None:
    # The receiver resolves the clicker into a Person; another Slack id means a wiring bug.
    if actor.slack_id is not None and actor.slack_id != user_id:
        raise PayloadInvalid("the actor given is not the Slack user who acted")


def _event(model: Any, data: dict[str, Any]) -> Event:
    try:
        event: Event = model.model_validate(data)
    except ValidationError as exc:
        raise PayloadInvalid(f"the submission does not make an event: {_first_error(exc)}") from exc
    return event


# --- the assessment form ----------------------------------------------------------------

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


def _assessment(values: Mapping[str, Any], actor: Person, at: datetime) -> Assessment:
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
            problem = _change_problem(change)
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
            raise PayloadInvalid(f"the assessment is invalid: {_first_error(exc)}") from exc
        raise SubmissionErrors(placed) from exc


def _change_problem(change: str) -> str | None:
    """What is wrong with the proposed change's format, worded for the modal, if anything."""
    try:
        parse_proposed_change(change)
    except ProposedChangeInvalid as exc:
        return _bounded("; ".join(p.render() for p in exc.problems), 500)
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
        errors.setdefault(input_id, _bounded(message, 500))
    return errors


# --- reading view.state.values ----------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def _state(values: Mapping[str, Any], input_id: InputId) -> Mapping[str, Any] | None:
    """The state of the input `input_id` (block and action share the id); None if absent."""
    block = values.get(input_id.value)
    if block is None:
        return None
    action = _mapping(block, f"the {input_id} block").get(input_id.value)
    if action is None:
        return None
    return _mapping(action, f"the {input_id} input")


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


def _required_text(values: Mapping[str, Any], input_id: InputId, missing: str) -> str:
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
    value = _mapping(option, f"the {input_id} option").get("value")
    if not isinstance(value, str) or value not in {member.value for member in kind}:
        raise PayloadInvalid(f"{_show(value)} is not a choice of the {input_id} input")
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
        value = _mapping(option, f"an {input_id} option").get("value")
        if not isinstance(value, str) or not _SOP_ID.fullmatch(value):
            raise PayloadInvalid(f"{_show(value)} is not an SOP id")
        chosen.append(value)
    return chosen


# --- /govflow ---------------------------------------------------------------------------

_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^>]{0,100})?>|@([UW][A-Z0-9]{2,31})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ooo(words: list[str], context: dict[str, Any]) -> SlashCommand:
    """`ooo MENTION until DATE` or `ooo MENTION from DATE until DATE`."""
    if len(words) == 3 and words[1].lower() == "until":
        start, until = None, _date(words[2])
    elif len(words) == 5 and words[1].lower() == "from" and words[3].lower() == "until":
        start, until = _date(words[2]), _date(words[4])
    else:
        raise PayloadInvalid(USAGE)
    found = _MENTION.fullmatch(words[0])
    if found is None:
        raise PayloadInvalid(
            _usage(
                "Name your delegate by picking them from the @ list, so Slack sends their user id"
            )
        )
    delegate = found.group(1) or found.group(2)
    if delegate == context["user_id"]:
        raise PayloadInvalid(_usage("Name a colleague: you cannot stand in for yourself"))
    if start is not None and until < start:
        raise PayloadInvalid(_usage(f"{until.isoformat()} is before {start.isoformat()}"))
    return SlashCommand(
        kind=SlashKind.OOO, delegate_id=delegate, start=start, until=until, **context
    )


def _date(word: str) -> date:
    if _DATE.fullmatch(word):
        try:
            return date.fromisoformat(word)
        except ValueError:
            pass
    raise PayloadInvalid(_usage(f"`{_echo(word)}` is not a date like 2026-12-24"))


def _echo(word: str) -> str:
    """A word of the command, shortened and escaped for the ephemeral answer."""
    short = _bounded(word, 40)
    return short.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _usage(problem: str) -> str:
    return f"{problem}\n\n{USAGE}"


# --- primitives -------------------------------------------------------------------------


def _json(raw: str, what: str, *, limit: int = _METADATA_MAX) -> Any:
    """Decoded JSON from a bounded string; deep nesting and bad syntax are PayloadInvalid."""
    if len(raw) > limit:
        raise PayloadInvalid(f"{what} is longer than Slack allows")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PayloadInvalid(f"{what} is not valid JSON") from exc


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadInvalid(f"{what} is missing or not an object")
    return value


def _optional_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    return _mapping(value, what)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PayloadInvalid(f"{what} is missing or not a string")
    return value


def _id(value: Any, pattern: re.Pattern[str], what: str) -> str:
    """A required identifier matching `pattern` (whose bounds bound the result)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PayloadInvalid(f"{what} is missing or malformed")
    return value


def _optional_id(value: Any, pattern: re.Pattern[str], what: str) -> str | None:
    # Slack sends "" or null for "not applicable" (e.g. no response_url in a modal).
    if value is None or value == "":
        return None
    return _id(value, pattern, what)


def _optional_entry(value: Any, what: str) -> str | None:
    """A roster entry (Slack user id or email) or None."""
    if value is None:
        return None
    if isinstance(value, str) and (_USER_ID.fullmatch(value) or _EMAIL.fullmatch(value)):
        return value
    raise PayloadInvalid(f"{what} is not a Slack user id or an email")


def _round(value: Any, what: str) -> int:
    # bool is an int to Python, never to us.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROUND:
        raise PayloadInvalid(f"{what} is missing or not a round number")
    return value


def _action_id(value: Any, what: str) -> ActionId:
    if not isinstance(value, str) or value not in {member.value for member in ActionId}:
        raise PayloadInvalid(f"{what} {_show(value)} is not a govflow action")
    return ActionId(value)


def _show(value: Any) -> str:
    """A short, safe rendering of a payload value for an error message."""
    if isinstance(value, str):
        return repr(_bounded(value, 40))
    return "nothing" if value is None else f"a {type(value).__name__}"


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    message = str(errors[0].get("msg", "invalid")) if errors else "invalid"
    return _bounded(message.removeprefix("Value error, "), 300)
