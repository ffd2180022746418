"""Prefect tasks of the intake flow: thin wrappers over the ledger, Jira and Slack."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from domain.ticket import Ticket
from govflow.intake import IntakeOutcome, record_ticket
from govflow.polling import newest_update, poll_tickets
from govflow.replies import awaiting_reply, record_replies
from govflow.requesters import catch_up, look_up, record_lookup_failure
from govflow.runtime import Runtime, utc_now
from integrations.db.cursors import advance_cursor, read_cursor
from integrations.db.requests import find_request
from integrations.delivery import DeliveryReport

INTAKE_CURSOR = "intake"


@task(name="read-intake-cursor", cache_policy=NO_CACHE)
def read_intake_cursor(runtime: Runtime) -> datetime | None:
    """Where the previous poll stopped."""
    with runtime.sessions.begin() as session:
        return read_cursor(session, INTAKE_CURSOR)


@task(name="poll-jira", cache_policy=NO_CACHE)
def poll_jira(runtime: Runtime, since: datetime | None) -> list[Ticket]:
    """Fetch every ticket updated since the cursor."""
    return poll_tickets(runtime.jira, runtime.rules, runtime.projects, since)


@task(name="look-up-requesters", cache_policy=NO_CACHE)
def look_up_requesters(runtime: Runtime, tickets: list[Ticket]) -> dict[str, str]:
    """Match each requester's email to a Slack user; why it failed, by ticket key."""
    ids = runtime.requester_ids()
    failures: dict[str, str] = {}
    first: str | None = None
    for ticket in tickets:
        if first is not None and ticket.reporter_email:
            # Slack is down or throttling: no ticket waits out another time-out this pass.
            failures[ticket.key] = f"not asked after an earlier failure: {first}"
            continue
        first = look_up(ids, ticket.reporter_email)
        if first is not None:
            failures[ticket.key] = first
    return failures


@task(name="record-ticket", cache_policy=NO_CACHE, task_run_name="record {ticket.key}")
def record_ticket_task(
    runtime: Runtime, ticket: Ticket, lookup_failure: str | None = None
) -> IntakeOutcome:
    """Record one ticket in its own transaction (with its failed requester look-up, if any)."""
    now = utc_now()
    with runtime.sessions.begin() as session:
        outcome = record_ticket(session, ticket, runtime.intake_context(), now)
        row = find_request(session, ticket.key)
        if lookup_failure is not None and row is not None and ticket.reporter_email:
            record_lookup_failure(session, row.id, ticket.reporter_email, lookup_failure, now)
        return outcome


@task(name="match-requesters", cache_policy=NO_CACHE)
def match_requesters(runtime: Runtime) -> list[int]:
    """Look again for requesters without a Slack id; the requests whose state must learn it."""
    return catch_up(runtime.sessions, runtime.requester_ids(), utc_now)


@task(name="advance-intake-cursor", cache_policy=NO_CACHE)
def advance_intake_cursor(runtime: Runtime, tickets: list[Ticket]) -> datetime | None:
    """Move the cursor to the newest ticket recorded."""
    newest = newest_update(tickets)
    if newest is None:
        return None
    with runtime.sessions.begin() as session:
        return advance_cursor(session, INTAKE_CURSOR, newest, utc_now())


@task(name="deliver-effects", cache_policy=NO_CACHE)
def deliver_effects(runtime: Runtime) -> DeliveryReport:
    """Send every due outbox effect to Jira and Slack."""
    return runtime.deliverer().deliver_due()


@task(name="read-requester-replies", cache_policy=NO_CACHE)
def read_requester_replies(runtime: Runtime, keys: list[str]) -> list[int]:
    """Record new comments on requests waiting for their requester; ids of requests to advance."""
    waiting: list[int] = []
    for key in keys:
        with runtime.sessions.begin() as session:
            row = find_request(session, key)
            if not awaiting_reply(row):
                continue
        comments = runtime.jira.comments(key)
        with runtime.sessions.begin() as session:
            row = find_request(session, key)
            if awaiting_reply(row) and row is not None:
                user = runtime.settings.jira_user
                if record_replies(session, row, comments, api_user=user, now=utc_now()):
                    waiting.append(row.id)
    return waiting
