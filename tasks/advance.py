"""Prefect tasks of the `advance` flow."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from govflow.advance import AdvanceSummary, advance_request
from govflow.effects import EffectContext
from govflow.request_clocks import reconcile_request
from govflow.runtime import Runtime, utc_now
from integrations.delivery import DeliveryReport


@task(name="apply-events", cache_policy=NO_CACHE)
def apply_events(runtime: Runtime, request_id: int) -> AdvanceSummary:
    """Apply the request's unprocessed events in one transaction."""
    context = EffectContext(rules=runtime.rules, jira_browse_url=runtime.jira.browse_url)
    now = utc_now()
    with runtime.sessions.begin() as session:
        summary = advance_request(session, request_id, context, now)
        reconcile_request(session, request_id, context, now)
        return summary


@task(name="deliver-request-effects", cache_policy=NO_CACHE)
def deliver_request_effects(runtime: Runtime, request_id: int) -> DeliveryReport:
    """Send the request's due outbox effects, in order."""
    return runtime.deliverer().deliver_request(request_id)
