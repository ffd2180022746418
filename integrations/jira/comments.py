"""Jira comment texts (v2 wiki markup) for what govflow tells the requester."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.errors import TicketProblem
from domain.rules import Rules
from domain.triage import Triaged

# Wiki markup treats these as formatting; a requester's own text is quoted through `_escape`.
_WIKI_SPECIAL = str.maketrans({c: f"\\{c}" for c in "{}[]|*_~"})


def mention(account_id: str | None, fallback: str = "") -> str:
    """A Jira mention of the account, or the fallback name when we have no account id."""
    return f"[~accountid:{account_id}]" if account_id else fallback


def render_incomplete(
    problems: Sequence[TicketProblem], *, requester_account_id: str | None
) -> str:
    """Tell the requester exactly what is missing or wrong and how to fix it."""
    greeting = mention(requester_account_id, "Hello")
    lines = [
        f"{greeting} thanks for the request. Before the moderation-strategy team can take it "
        "up, please fix the following on this ticket:",
        "",
    ]
    lines += [f"* *{_escape(p.label)}* {_escape(p.message)}. {_escape(p.fix)}" for p in problems]
    lines += [
        "",
        "Edit the ticket's fields directly; govflow checks it again automatically within a "
        "minute of your change. No need to comment.",
    ]
    return "\n".join(lines)


def render_acknowledged(
    triaged: Triaged,
    rules: Rules,
    *,
    requester_account_id: str | None,
    expert_due: datetime | None,
) -> str:
    """Acknowledge a complete request: its route, the next step, and when to expect it."""
    route = triaged.route
    expert = rules.teams[route.expert_team].name
    signoff = ", ".join(
        f"{rules.teams[s.team].name} ({_quorum_text(s.quorum.kind, s.quorum.n)})"
        for s in route.signoff
    )
    request_type = rules.request_types[triaged.request_type].label
    domain = rules.domains[triaged.domain].label
    lines = [
        f"{mention(requester_account_id, 'Hello')} your request is complete and on its way.",
        "",
        f"* *Request:* {request_type} | {domain} | {triaged.market} | {triaged.priority}",
        f"* *Next step:* expert review by {expert}",
        f"* *Sign-off by:* {signoff}",
    ]
    if expert_due is not None:
        lines.append(f"* *Expert assessment due:* {expert_due:%a %d %b %Y %H:%M} UTC")
    lines += ["", "Progress is posted on this ticket as each step completes."]
    return "\n".join(lines)


def _quorum_text(kind: str, n: int | None) -> str:
    return {"any": "any one approver", "all": "every approver"}.get(kind, f"{n} approvers")


def _escape(text: str) -> str:
    return text.translate(_WIKI_SPECIAL)
