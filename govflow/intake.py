"""Recording a Jira ticket in the ledger: create, triage, route, and queue what to tell whom."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from domain.entitlement import Unreachable, team_label, unreachable_signoffs
from domain.errors import TicketInvalid
from domain.lifecycle import RequestState, begin
from domain.notices import StageChanged
from domain.people import Person
from domain.rules import QuorumKind, Rules
from domain.stages import Stage, check_transition
from domain.ticket import Ticket
from domain.triage import Triaged, triage
from govflow.effects import EffectContext, EffectWriter
from govflow.precedents import keep_precedents
from govflow.request_clocks import reconcile_request
from integrations.db.audit import latest_audit, record_audit
from integrations.db.clocks import slack_ids_by_email
from integrations.db.models import RequestRow
from integrations.db.requests import ensure_request, lock_request
from integrations.delivery import EffectKind
from integrations.jira.comments import render_acknowledged, render_incomplete
from integrations.slack.blocks import RequestCard, render_request_root

ACTOR = "govflow"


class IntakeOutcome(StrEnum):
    """What recording one ticket did."""

    ROUTED = "routed"
    INCOMPLETE = "incomplete"
    UNCHANGED = "unchanged"
    EDITED = "edited"
    STALE = "stale"

    @property
    def changed(self) -> bool:
        """Whether recording the ticket changed its request."""
        return self not in (IntakeOutcome.UNCHANGED, IntakeOutcome.STALE)


# Intake needs exactly what queueing effects needs: the rules and where the Jira UI lives.
IntakeContext = EffectContext


def record_ticket(
    session: Session, ticket: Ticket, context: IntakeContext, now: datetime
) -> IntakeOutcome:
    """Make sure the ticket has exactly one request and triage it if it is new or was fixed."""
    created = ensure_request(
        session,
        jira_key=ticket.key,
        jira_id=ticket.id,
        project=ticket.project,
        jira_updated=ticket.updated,
        stage=Stage.RECEIVED,
        now=now,
    )
    row = lock_request(session, ticket.key)
    if not created and ticket.updated < row.jira_updated:
        # Webhooks arrive in any order, and a poll can read a version older than one a
        # webhook already brought: an older version of the ticket must not undo a newer one.
        record_audit(
            session,
            at=now,
            actor=ACTOR,
            action="stale_ticket_ignored",
            request_id=row.id,
            detail={"updated": ticket.updated.isoformat(), "known": row.jira_updated.isoformat()},
        )
        return IntakeOutcome.STALE
    fingerprint = ticket.fingerprint()
    if ticket.updated > row.jira_updated:
        row.jira_updated = ticket.updated
    if not created and row.fingerprint == fingerprint:
        return IntakeOutcome.UNCHANGED
    if created:
        record_audit(
            session,
            at=now,
            actor=ACTOR,
            action="request_created",
            request_id=row.id,
            detail={"jira_key": ticket.key, "reporter": ticket.reporter_account_id},
        )
    row.fingerprint = fingerprint
    row.summary = ticket.summary
    row.requester_account_id = ticket.reporter_account_id
    row.requester_email = row.requester_email or ticket.reporter_email
    row.facts = {"values": dict(ticket.values), "malformed": dict(ticket.malformed)}
    row.updated_at = now
    if not _awaiting_triage(row):
        record_audit(
            session,
            at=now,
            actor=ticket.reporter_account_id or "requester",
            action="ticket_edited",
            request_id=row.id,
            detail={"stage": row.stage},
        )
        return IntakeOutcome.EDITED
    try:
        triaged = triage(ticket, context.rules)
    except TicketInvalid as invalid:
        _ask_for_fixes(session, row, ticket, invalid, context, now)
        return IntakeOutcome.INCOMPLETE
    _route(session, row, ticket, triaged, context, now)
    return IntakeOutcome.ROUTED


def _awaiting_triage(row: RequestRow) -> bool:
    """Only a request that has never passed triage is re-triaged when its ticket changes."""
    return row.stage == Stage.RECEIVED or (
        row.stage == Stage.NEEDS_INFO and row.resume_stage == Stage.RECEIVED
    )


def _ask_for_fixes(
    session: Session,
    row: RequestRow,
    ticket: Ticket,
    invalid: TicketInvalid,
    context: IntakeContext,
    now: datetime,
) -> None:
    """Tell the requester what to fix, once per distinct list of problems.

    An edit that fixes nothing (the summary reworded, say) leaves the list as it was, and the
    comment already on the ticket still says it; a list that differs from the last one told
    is told, even one told before (A, then B, then A again), so the latest comment is right.
    """
    if row.stage != Stage.NEEDS_INFO:
        _move(session, row, Stage.NEEDS_INFO, now, reason="ticket incomplete")
        row.resume_stage = Stage.RECEIVED
    body = render_incomplete(invalid.problems, requester_account_id=ticket.reporter_account_id)
    told = hashlib.sha256(body.encode()).hexdigest()[:32]
    writer = EffectWriter(session, row, context, now)
    last = latest_audit(session, row.id, "ticket_incomplete")
    if last is None or last.detail.get("told") != told:
        # Keyed on what was told before: the same list can come back after another one.
        after = last.id if last is not None else 0
        writer.queue(EffectKind.JIRA_COMMENT, {"body": body}, f"incomplete:{told}:{after}")
    writer.transition(Stage(row.stage), f"{row.stage}:{row.fingerprint}")
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action="ticket_incomplete",
        request_id=row.id,
        reason=str(invalid),
        detail={"problems": [p.field for p in invalid.problems], "told": told},
    )


def _route(
    session: Session,
    row: RequestRow,
    ticket: Ticket,
    triaged: Triaged,
    context: IntakeContext,
    now: datetime,
) -> None:
    """Record the route, move to expert review, acknowledge on Jira and open the Slack thread."""
    rules = context.rules
    route = triaged.route
    row.request_type = triaged.request_type
    row.domain = triaged.domain
    row.market = triaged.market
    row.priority = triaged.priority
    row.route_name = route.name
    row.expert_team = route.expert_team
    row.resume_stage = None
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action="routed",
        request_id=row.id,
        reason=f"route {route.name}",
        detail={
            "route": route.name,
            "expert_team": route.expert_team,
            "signoff": [s.team for s in route.signoff],
            "sla_policy": route.sla_policy,
        },
    )
    _move(session, row, Stage.EXPERT_REVIEW, now, reason=f"routed by {route.name}")
    body = render_acknowledged(
        triaged, rules, requester_account_id=ticket.reporter_account_id, expert_due=None
    )
    writer = EffectWriter(session, row, context, now)
    writer.queue(EffectKind.JIRA_COMMENT, {"body": body}, "acknowledged")
    writer.transition(Stage(row.stage), f"{row.stage}:{row.fingerprint}")
    requester = with_known_slack_id(session, requester_of(ticket))
    state = begin(ticket.key, requester, route, rules, now)
    row.state = state.model_dump(mode="json")
    channel = route.slack_channel or rules.teams[route.expert_team].slack_channel
    card = request_card(row, rules, context, ticket.reporter_name, state=state)
    text, blocks = render_request_root(card)
    writer.queue(
        EffectKind.SLACK_ROOT, {"channel": channel, "text": text, "blocks": blocks}, "thread-root"
    )
    keep_precedents(session, row, context.issue_url(row.jira_key), now)
    writer.assignment_card(state)
    warn_unreachable(session, writer, state, route.name, now)
    reconcile_request(session, row.id, writer.context, now)


def warn_unreachable(
    session: Session, writer: EffectWriter, state: RequestState, route: str, now: datetime
) -> None:
    """Say at once, in the thread and on Jira, which sign-off can never pass, and audit it.

    Otherwise the request would wait at that team until its SLA breached. Once per request
    and round: the outbox keys make a repeat harmless. Called at routing, and by `advance`
    when the requester's Slack id is learned later.
    """
    rules = writer.context.rules
    for gap in unreachable_signoffs(state, rules):
        text = unreachable_text(gap, state.key, route, rules)
        team = gap.signoff.team
        suffix = f"unreachable:{state.round}:{team}"
        writer.queue(EffectKind.SLACK_REPLY, {"text": f":warning: {text}"}, f"reply:{suffix}")
        writer.queue(EffectKind.JIRA_COMMENT, {"body": text}, f"comment:{suffix}")
        record_audit(
            session,
            at=now,
            actor=ACTOR,
            action="quorum_unreachable",
            request_id=writer.row.id,
            reason=text,
            detail={
                "team": team,
                "route": route,
                "round": state.round,
                "needed": gap.needed,
                "roster": gap.roster,
                "eligible": gap.eligible,
            },
        )


def unreachable_text(gap: Unreachable, key: str, route: str, rules: Rules) -> str:
    """What an unreachable sign-off means for a request and what an admin must change."""
    team = gap.signoff.team
    name = team_label(rules, team)
    quorum = gap.signoff.quorum
    rule = {
        QuorumKind.ANY: "any one approver",
        QuorumKind.ALL: "every approver",
        QuorumKind.N_OF: f"n_of: {quorum.n}",
    }[quorum.kind]
    approvals = "approval" if gap.needed == 1 else "approvals"
    return (
        f"{name} sign-off of {key} cannot be reached: route {route} asks for {gap.needed} "
        f"{approvals} ({rule}), but the requester is on the {name} roster and never decides "
        f"on their own request, not even through a delegate, which leaves {gap.eligible} of "
        f"its {gap.roster} approvers. An admin must add an approver to teams.{team}.roster "
        f"or change the {name} quorum of route {route} in the rules; until then {key} "
        f"will wait at {name} sign-off."
    )


def requester_of(ticket: Ticket) -> Person:
    """The requester as a person: Jira account id, and email when Jira shows it."""
    return Person(
        jira_account_id=ticket.reporter_account_id or f"unknown:{ticket.key}",
        email=ticket.reporter_email,
        name=ticket.reporter_name,
    )


def with_known_slack_id(session: Session, requester: Person) -> Person:
    """The requester with the Slack id the ledger knows for their email, if it knows one.

    Rosters name Slack ids; without it a requester on a roster stays counted in its quorum.
    """
    if requester.email is None or requester.slack_id is not None:
        return requester
    found = slack_ids_by_email(session, [requester.email]).get(requester.email)
    return requester.model_copy(update={"slack_id": found}) if found else requester


def request_card(
    row: RequestRow,
    rules: Rules,
    context: IntakeContext,
    requester: str,
    *,
    state: RequestState,
) -> RequestCard:
    """The root-message card of a request just routed: who holds it is `state`'s answer."""
    request_type = rules.request_types.get(row.request_type or "")
    domain = rules.domains.get(row.domain or "")
    return RequestCard(
        jira_key=row.jira_key,
        jira_url=context.issue_url(row.jira_key),
        summary=row.summary,
        request_type=request_type.label if request_type else (row.request_type or "?"),
        domain=domain.label if domain else (row.domain or "?"),
        market=row.market or "?",
        priority=row.priority,
        stage=row.stage,
        held_by=state.waiting_on(rules).label,
        requester=requester or row.requester_email or "requester",
    )


def _move(session: Session, row: RequestRow, target: Stage, now: datetime, *, reason: str) -> None:
    current = Stage(row.stage)
    check_transition(current, target)
    row.stage = target.value
    row.updated_at = now
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action="stage_changed",
        request_id=row.id,
        reason=reason,
        # The shape advance records too: the lifecycle's own notice (`stage_change` reads it).
        detail={
            "notice": StageChanged(from_stage=current, to_stage=target, reason=reason).model_dump(
                mode="json"
            )
        },
    )
