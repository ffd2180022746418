"""The thread root's card of a request, filled from its state: stage, holder, sign-off teams.

Its Block Kit is `integrations.slack.blocks.render_request_root`.
"""

from __future__ import annotations

from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.rules import Rules
from domain.stages import Turn
from integrations.slack.blocks import RequestCard
from integrations.slack.request_status import outcome, team_status


def request_card_from_state(
    state: RequestState,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    requester_label: str,
    clocks: list[str],
    request_type: str = "",
    domain: str = "",
    market: str = "",
    priority: str = "",
) -> RequestCard:
    """The thread root's card for `state`: stage, who holds it, every sign-off team's state.

    `request_type` and `domain` may be rule keys (shown by their labels) or labels; facts
    left empty are left off the card, so pass what intake showed to keep it.
    """
    found_type = rules.request_types.get(request_type)
    found_domain = rules.domains.get(domain)
    return RequestCard(
        jira_key=state.key,
        jira_url=jira_url,
        summary=summary,
        request_type=found_type.label if found_type else request_type,
        domain=found_domain.label if found_domain else domain,
        market=market,
        priority=priority,
        stage=state.stage.value,
        held_by=_held_by(state, rules, requester_label),
        requester=requester_label or state.requester.label,
        signoff=[
            (team_label(rules, s.team), team_status(state, rules, s.team)) for s in state.signoff
        ],
        clocks=list(clocks),
        note=outcome(state, rules),
    )


def _held_by(state: RequestState, rules: Rules, requester_label: str) -> str:
    waiting = state.waiting_on(rules)
    if waiting.turn is Turn.REQUESTER and requester_label:
        return f"{requester_label} (to answer a question)"
    return waiting.label
