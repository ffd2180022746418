"""Taking a click or a modal submission: check it against the ledger, then record it.

The use case behind every button and form of govflow's Slack cards (DESIGN decision 4). The
receiver has parsed the payload, resolved the person and built the lifecycle event; these
functions, over one ledger transaction, find the request, refuse what `advance` would
refuse (the domain's `apply` on the current state, or `authorize` for a button that opens a
form), and either record the event with its `event_received` audit or audit the refusal as
`action_refused`. They return plain outcomes, which the receiver turns into Slack answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.entitlement import Action, authorize, local_date, team_label
from domain.errors import InvalidTransition, NotEntitled
from domain.lifecycle import Event, RequestState, apply
from domain.people import Person
from domain.rules import Rules
from govflow.delegation_sources import known_delegations
from integrations.db.audit import record_audit
from integrations.db.events import record_event
from integrations.db.models import RequestRow
from integrations.db.requests import find_request
from integrations.db.sops import list_sops
from integrations.slack.action_ids import ActionId
from integrations.slack.interaction_events import ensure_current
from integrations.slack.interaction_parsing import ButtonClick, ModalSubmission
from integrations.slack.modal_for_click import modal_for_click
from integrations.slack.precedents import kept_precedents

# What a refusal's audit record and the person's message may quote of a reason.
MAX_REASON = 2000
# What the button that opens a modal leads to, for checking before the modal opens.
MODAL_ACTIONS: dict[ActionId, Action] = {
    ActionId.ASSESS: Action.ASSESS,
    ActionId.ASK: Action.ASK,
    ActionId.REJECT: Action.REJECT,
    ActionId.CHANGES: Action.REQUEST_CHANGES,
    ActionId.SOP_EDIT: Action.EDIT_SOP,
    ActionId.SOP_SEND_BACK: Action.SEND_BACK_SOP,
}


@dataclass(frozen=True)
class Refused:
    """The interaction may not happen; `reason` is shown to the person as is."""

    reason: str
    request_id: int | None = None


@dataclass(frozen=True)
class Recorded:
    """The event was recorded (`new` False: a redelivery, nothing recorded this time)."""

    request_id: int
    new: bool


@dataclass(frozen=True)
class OpenModal:
    """The button opens a modal; the view to open."""

    request_id: int
    view: Any


Outcome = Refused | Recorded | OpenModal


def take_click(
    session: Session,
    rules: Rules,
    click: ButtonClick,
    actor: Person,
    event: Event | None,
    now: datetime,
    requester: Person | None = None,
) -> Outcome:
    """Record a click's event, or check the form it opens; refused (and audited) if not allowed.

    `event` None: the button opens a form, which is built here if the person may use it.
    `requester`: the requester as the Jira lookup taught it (see `govflow.own_request`).
    """
    return _take(session, rules, click, actor, event, now, requester)


def take_submission(
    session: Session,
    rules: Rules,
    sub: ModalSubmission,
    actor: Person,
    event: Event,
    now: datetime,
    requester: Person | None = None,
) -> Refused | Recorded:
    """Record a submitted form's event; refused (and audited) if `advance` would refuse it."""
    outcome = _take(session, rules, sub, actor, event, now, requester)
    assert not isinstance(outcome, OpenModal)  # only a button with no event opens a form
    return outcome


def refuse(
    session: Session,
    refusal: Refused,
    actor: Person,
    interaction: ButtonClick | ModalSubmission,
    now: datetime,
) -> Refused:
    """Audit a refusal of a checked interaction as `action_refused`; the refusal itself."""
    action = interaction.action if isinstance(interaction, ButtonClick) else interaction.callback
    record_audit(
        session,
        at=now,
        actor=who(actor),
        action="action_refused",
        request_id=refusal.request_id,
        reason=refusal.reason[:MAX_REASON],
        detail={
            "action": action.value,
            "jira_key": interaction.jira_key,
            "team": interaction.team,
        },
    )
    return refusal


def refuse_unchecked(
    session: Session,
    jira_key: str,
    actor: str,
    reason: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Audit a refusal made before the request was checked (on it, when govflow has it)."""
    row = find_request(session, jira_key)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="action_refused",
        request_id=row.id if row is not None else None,
        reason=reason[:MAX_REASON],
        detail=detail,
    )


def who(person: Person) -> str:
    """The audit actor: the email where known, else an id."""
    return person.email or person.slack_id or person.jira_account_id or "unknown"


def reason_of(refusal: Exception) -> str:
    """A refusal's reason as the person reads it (bounded; the error's name if it has none)."""
    return str(refusal)[:MAX_REASON] or type(refusal).__name__


def _take(
    session: Session,
    rules: Rules,
    interaction: ButtonClick | ModalSubmission,
    actor: Person,
    event: Event | None,
    now: datetime,
    requester: Person | None,
) -> Outcome:
    """Find the request, check the interaction against it, then record it or refuse it."""
    found = _request(session, interaction.jira_key, requester)
    if isinstance(found, Refused):
        return refuse(session, found, actor, interaction, now)
    row, state = found
    try:
        ensure_current(interaction, state)
        if event is None:
            assert isinstance(interaction, ButtonClick)  # a submission always carries its event
            _authorize_modal(session, rules, interaction, actor, state, now)
            view = _modal(session, rules, interaction, state, row.facts)
            return OpenModal(request_id=row.id, view=view)
        _precheck(session, rules, state, event, now)
    except (InvalidTransition, NotEntitled, ValueError) as refusal:
        reason = Refused(reason_of(refusal), request_id=row.id)
        return refuse(session, reason, actor, interaction, now)
    return _record(session, row, event, actor, interaction.dedupe_key, now)


def _request(
    session: Session, jira_key: str, requester: Person | None = None
) -> tuple[RequestRow, RequestState] | Refused:
    """The request's row and state; with `requester`, the requester as the click taught."""
    row = find_request(session, jira_key)
    if row is None:
        return Refused(f"govflow has no request {jira_key}")
    if row.state is None:
        return Refused(f"{jira_key} has not been routed to reviewers yet", request_id=row.id)
    state = RequestState.model_validate(row.state)
    if requester is not None:
        state = state.model_copy(update={"requester": requester})
    return row, state


def _authorize_modal(
    session: Session,
    rules: Rules,
    click: ButtonClick,
    actor: Person,
    state: RequestState,
    now: datetime,
) -> None:
    """Whether the person may do what the modal is for, before showing it."""
    action = MODAL_ACTIONS[click.action]
    team = click.team if action in (Action.REJECT, Action.REQUEST_CHANGES) else None
    on = local_date(rules, team or state.expert_team, now)
    authorize(
        actor,
        action,
        state,
        rules,
        on,
        delegations=known_delegations(session, rules, on),
        team=team,
    )


def _modal(
    session: Session,
    rules: Rules,
    click: ButtonClick,
    state: RequestState,
    facts: Mapping[str, Any] | None = None,
) -> Any:
    """The modal a button opens, about the request as the ledger has it now."""
    facts = dict(facts or {})
    choices = (
        [(sop.meta.id, sop.meta.title) for sop in list_sops(session)]
        if click.action is ActionId.ASSESS
        else []
    )
    view = modal_for_click(
        click,
        sop_choices=choices,
        initial=state.assessment,
        team_name=team_label(rules, click.team) if click.team else None,
        state=state,
        precedents=kept_precedents(facts),
        jira_url=str(facts.get("jira_url", "")),
    )
    if view is None:
        raise ValueError(f"{click.action} opens no form")
    return view


def _precheck(
    session: Session, rules: Rules, state: RequestState, event: Event, now: datetime
) -> None:
    """Refuse now what `advance` would refuse: the domain's rules on the current state."""
    team = getattr(event, "team", None) or state.expert_team
    on = local_date(rules, team, event.at)
    apply(state, event, rules, known_delegations(session, rules, on), now)


def _record(
    session: Session,
    row: RequestRow,
    event: Event,
    actor: Person,
    dedupe_key: str,
    now: datetime,
) -> Recorded:
    """The event under the parser's dedupe key and its `event_received` audit, once."""
    new = record_event(
        session,
        request_id=row.id,
        kind=event.kind,
        actor=who(actor),
        payload=event.model_dump(mode="json"),
        dedupe_key=dedupe_key,
        now=now,
    )
    if new:
        record_audit(
            session,
            at=now,
            actor=who(actor),
            action="event_received",
            request_id=row.id,
            detail={"kind": event.kind, "dedupe_key": dedupe_key, "via": "slack"},
        )
    return Recorded(request_id=row.id, new=new)
