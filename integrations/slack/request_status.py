"""Where a request stands, in the few words its cards and `/govflow status` use: each team's
status, the outcome line, why sign-off sent it back, and whom it waits for.
"""

from __future__ import annotations

from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.rules import Rules
from domain.signoff import Decision, TeamState, Verdict
from domain.stages import Stage, Turn
from integrations.slack.blocks import person_ref
from integrations.slack.card_parts import TEAM_STATE_LABELS, VERDICT_WORDS


def team_status(state: RequestState, rules: Rules, team: str) -> str:
    """Where `team` stands in the current round, in a few words for a card."""
    progress = state.team_progress(rules, team)
    if progress is None or state.round == 0:
        return "Not started"
    if progress.state is not TeamState.PENDING:
        return TEAM_STATE_LABELS[progress.state]
    if state.stage is Stage.SIGN_OFF:
        return f"Pending · {progress.text}"
    if state.stage is Stage.EXPERT_REVIEW:
        return "Waiting for the revised assessment"
    if state.stage is Stage.NEEDS_INFO:
        return f"Paused · {progress.text}"
    return f"Not decided · {progress.text}"


def status_text(state: RequestState, rules: Rules) -> str:
    """Whom the request waits for, in a sentence or two for `/govflow status`."""
    waiting = state.waiting_on(rules)
    teams = ", ".join(waiting.names)
    match waiting.turn:
        case Turn.EXPERTS if waiting.person is not None:
            return f"{person_ref(waiting.person)} is assessing it."
        case Turn.EXPERTS:
            return f"Waiting for {teams} to claim it."
        case Turn.REQUESTER:
            return f"Waiting for {state.requester.label} to answer on Jira."
        case Turn.SIGNOFF:
            lines = [f"• {p.name}: {_marker(p.state)} ({p.text})" for p in waiting.signoff]
            return f"Sign-off round {state.round}:\n" + "\n".join(lines)
        case Turn.SOP_OWNER:
            return f"Every team approved; waiting for {teams} to publish the SOP update."
        case Turn.NOBODY:
            return "Nothing more is waiting on anyone."
        case _:
            return ""


def _marker(state: TeamState) -> str:
    return "waiting" if state is TeamState.PENDING else state.value.lower()


def _pushback(state: RequestState) -> Decision | None:
    """The rejection or request for changes that ended the current round, if one did."""
    return next(
        (d for d in reversed(state.round_decisions()) if d.verdict is not Verdict.APPROVE), None
    )


def feedback(state: RequestState, rules: Rules) -> list[str]:
    """Why sign-off sent the request back to the expert, for the assignment card."""
    decision = _pushback(state)
    if decision is None:
        return []
    _, verb = VERDICT_WORDS[decision.verdict]
    who = f"{decision.approver.label} ({team_label(rules, decision.team)})"
    return [f"{who} {verb} in round {decision.round}: {decision.reason}"]


def outcome(state: RequestState, rules: Rules) -> str:
    """One line on what matters now: the open question, the outcome, or the sign-off round."""
    assessment = state.assessment
    match state.stage:
        case Stage.NEEDS_INFO:
            question = state.question
            if question is None:
                return "Waiting for the requester"
            return f"Waiting for the requester to answer {question.asked_by.label}: {question.text}"
        case Stage.SIGN_OFF:
            risk = f" (risk {assessment.risk.value})" if assessment else ""
            return f"Recommended{risk}; sign-off round {state.round} is open"
        case Stage.SOP_UPDATE:
            if state.conflicts:
                clashing = ", ".join(c.sop_id for c in state.conflicts)
                return f"{clashing} clashes with a newer version; the SOP owner reconciles it"
            return f"Every team signed off round {state.round}; the SOP update is next"
        case Stage.DONE:
            versions = ", ".join(f"{p.sop_id} v{p.version}" for p in state.published)
            return f"Published {versions}" if versions else "The SOP update is published"
        case Stage.REJECTED:
            decision = _pushback(state)
            if decision is not None and decision.verdict is Verdict.REJECT:
                return f"Rejected by {team_label(rules, decision.team)}: {decision.reason}"
            if assessment is not None:
                return f"Rejected in expert review: {assessment.rationale}"
            return "Rejected"
        case Stage.CANCELLED:
            return "Cancelled"
        case Stage.EXPERT_REVIEW:
            return "; ".join(feedback(state, rules))
        case _:
            return ""
