"""Which modal a button click opens, tied to the card clicked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.assessment import Assessment
from domain.lifecycle import RequestState
from domain.precedents import Precedents
from integrations.slack.action_ids import ActionId
from integrations.slack.assessment_modal import assessment_modal
from integrations.slack.interaction_parsing import ButtonClick
from integrations.slack.reason_modals import ASK, CHANGES, REJECT, SEND_BACK, reason_modal
from integrations.slack.sop_edit_modal import sop_edit_modal


def modal_for_click(
    click: ButtonClick,
    *,
    sop_choices: Sequence[tuple[str, str]] = (),
    initial: Assessment | None = None,
    team_name: str | None = None,
    state: RequestState | None = None,
    precedents: Precedents | None = None,
    jira_url: str = "",
) -> dict[str, Any] | None:
    """The modal a click opens, tied to the card clicked; None for clicks that open none.

    The SOP edit form needs `state` (the drafts as the ledger has them).
    """
    where = {"channel_id": click.channel_id, "message_ts": click.message_ts}
    if click.action is ActionId.SOP_EDIT:
        draft = state.draft(click.sop_id) if state and click.sop_id else None
        if state is None or draft is None:
            return None
        conflict = state.conflict(draft.sop_id)
        return sop_edit_modal(click.jira_key, click.round, draft, conflict, **where)
    if click.action is ActionId.SOP_SEND_BACK:
        return reason_modal(SEND_BACK, click.jira_key, click.round, team_name=team_name, **where)
    if click.action is ActionId.ASSESS:
        return assessment_modal(
            click.jira_key,
            click.round,
            sop_choices,
            initial,
            precedents=precedents,
            jira_url=jira_url,
            **where,
        )
    if click.action is ActionId.ASK:
        return reason_modal(ASK, click.jira_key, click.round, team=click.team, **where)
    if click.team is None:
        return None
    decision = {ActionId.REJECT: REJECT, ActionId.CHANGES: CHANGES}.get(click.action)
    if decision is None:
        return None
    return reason_modal(
        decision, click.jira_key, click.round, team=click.team, team_name=team_name, **where
    )
