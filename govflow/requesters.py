"""Matching requesters to Slack users, so rosters naming Slack ids leave them out.

Jira gives a request's requester by account id and, when it shows it, email; rosters name
Slack ids. At intake (the poll and the Jira webhook) the requester's email is looked up
with `users.lookupByEmail` before the ticket's transaction (Slack calls never run inside
one), cached in the ledger (`RequesterSlackIds`), and `record_ticket` builds the requester
from the ledger's answer, so they are left out of their own team's roster from routing on.

Slack failing never loses or blocks a ticket: it is taken in without the Slack id and the
failure is audited. Every later intake pass (`catch_up`) looks again for each open request
whose requester still has no Slack id, and records a `RequesterIdentified` event once Slack
answers; `advance` applies it, so it stays the one writer of the request's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import SlackError
from domain.lifecycle import GOVFLOW, RequesterIdentified
from domain.stages import TERMINAL
from integrations.db.audit import record_audit
from integrations.db.clocks import slack_ids_by_email
from integrations.db.events import record_event
from integrations.db.models import RequestRow
from integrations.slack.identity import RequesterSlackIds

ACTOR = "govflow"
LOOKUP_FAILED = "requester_lookup_failed"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Unmatched:
    """An open request whose requester has an email but no Slack id yet."""

    request_id: int
    email: str


def look_up(ids: RequesterSlackIds, email: str | None) -> str | None:
    """Fill the ledger's answer for `email`; why Slack could not say, or None when it did."""
    if email is None:
        return None
    try:
        ids.slack_id(email)
    except SlackError as exc:
        return str(exc)
    return None


def record_lookup_failure(
    session: Session, request_id: int, email: str, reason: str, now: datetime
) -> None:
    """Audit that the requester's Slack id could not be looked up (retried by `catch_up`)."""
    record_audit(
        session,
        at=now,
        actor=ACTOR,
        action=LOOKUP_FAILED,
        request_id=request_id,
        reason=f"users.lookupByEmail failed; the next intake pass asks again: {reason}"[:2000],
        detail={"email": email},
    )


def unmatched_requesters(session: Session) -> list[Unmatched]:
    """Open, routed requests whose requester has an email but no Slack id in their state."""
    terminal = [stage.value for stage in TERMINAL]
    query = (
        select(RequestRow.id, RequestRow.state)
        .where(RequestRow.stage.not_in(terminal), RequestRow.state.is_not(None))
        .order_by(RequestRow.id)
    )
    found = []
    for request_id, state in session.execute(query).all():
        # Raw JSON, not RequestState: this runs every pass over every open request.
        requester = state.get("requester") or {}
        email = requester.get("email")
        if email and not requester.get("slack_id"):
            found.append(Unmatched(request_id, str(email)))
    return found


def record_identified(
    session: Session, request_id: int, email: str, slack_id: str, now: datetime
) -> bool:
    """Record that the request's requester is Slack user `slack_id`; True when new."""
    event_id = f"requester_identified:{request_id}:{slack_id}"
    event = RequesterIdentified(
        event_id=event_id, actor=GOVFLOW, at=now, email=email, slack_id=slack_id
    )
    return record_event(
        session,
        request_id=request_id,
        kind=event.kind,
        actor=ACTOR,
        payload=event.model_dump(mode="json"),
        dedupe_key=event_id,
        now=now,
    )


def identify_known(session: Session, pending: list[Unmatched], now: datetime) -> list[int]:
    """Record `RequesterIdentified` for each request whose email the ledger has an id for.

    Returns every such request, the event new or not yet applied, for `advance` to run.
    """
    known = slack_ids_by_email(session, [p.email for p in pending])
    ready = []
    for unmatched in pending:
        slack_id = known.get(unmatched.email.casefold())
        if slack_id is not None:
            record_identified(session, unmatched.request_id, unmatched.email, slack_id, now)
            ready.append(unmatched.request_id)
    return ready


def catch_up(sessions: sessionmaker[Session], ids: RequesterSlackIds, clock: Clock) -> list[int]:
    """Look again for requesters still without a Slack id; the requests to advance.

    Stops asking at the first failure: Slack is down or throttling, and the next pass will
    ask again; the requesters asked about get an audit record.
    """
    with sessions.begin() as session:
        pending = unmatched_requesters(session)
    failed: dict[str, str] = {}
    for email in sorted({p.email for p in pending}):
        reason = look_up(ids, email)
        if reason is not None:
            failed[email] = reason
            break
    now = clock()
    with sessions.begin() as session:
        for unmatched in pending:
            reason = failed.get(unmatched.email)
            if reason is not None:
                record_lookup_failure(session, unmatched.request_id, unmatched.email, reason, now)
        return identify_known(session, pending, now)
