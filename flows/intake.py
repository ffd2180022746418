"""The intake flow: poll Jira, record each ticket once, tell requesters and teams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow

from govflow.intake import IntakeOutcome
from govflow.publishing import publish_changes_now, publish_request_timeline, publish_timelines
from govflow.runtime import Runtime
from tasks.advance import apply_events
from tasks.intake import (
    advance_intake_cursor,
    deliver_effects,
    look_up_requesters,
    match_requesters,
    poll_jira,
    read_intake_cursor,
    read_requester_replies,
    record_ticket_task,
)
from tasks.training import remind_attesters_task


def _run_name() -> str:
    return f"intake · {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z"


@flow(name="intake", flow_run_name=_run_name, log_prints=True)
def intake() -> dict[str, Any]:
    """Poll Jira for new and changed tickets and bring the ledger up to date."""
    runtime = Runtime.load()
    since = read_intake_cursor(runtime)
    tickets = poll_jira(runtime, since)
    failures = look_up_requesters(runtime, tickets)
    outcomes: dict[str, IntakeOutcome] = {}
    for ticket in tickets:
        # The key is in the task run's name, not its tags: each tagged task run costs a
        # tag-concurrency lease round trip to the server (~0.8 s under load on prefect 3.9).
        outcomes[ticket.key] = record_ticket_task(runtime, ticket, failures.get(ticket.key))
    advance_intake_cursor(runtime, tickets)
    replied = read_requester_replies(runtime, [t.key for t in tickets])
    matched = match_requesters(runtime)
    reminded = remind_attesters_task(runtime)
    for request_id in dict.fromkeys([*replied, *matched]):
        apply_events(runtime, request_id)
    delivery = deliver_effects(runtime)
    # Not tagged with the keys: a request's tag filters the Runs page to its own runs
    # (`advance`); the keys are in this run's task run names and result.
    changed = sorted(key for key, o in outcomes.items() if o.changed)
    if changed or replied or matched or delivery.sent:
        # Now, not debounced: this run's process ends with the run.
        publish_changes_now(runtime)
    publish_timelines(runtime, changed)
    for request_id in dict.fromkeys([*replied, *matched]):
        publish_request_timeline(runtime, request_id)
    return {
        "seen": len(tickets),
        "outcomes": {o.value: sum(1 for v in outcomes.values() if v is o) for o in IntakeOutcome},
        "changed": changed,
        "replies": len(replied),
        "requesters_matched": len(matched),
        "training_reminders": reminded,
        "delivered": delivery.sent,
        "deferred": delivery.deferred,
        "dead": delivery.dead,
    }
