"""When housekeeping runs: the watchdog when a clock falls due, intake as a reconciliation poll.

Before, intake ran every 30 s and the watchdog every 60 s, idle or not: 4,320 runs a day that
drowned the request runs in the Prefect UI and grew Prefect's database with time, not work.

- The watchdog's deployment keeps only a slow safety schedule (`WATCHDOG_SAFETY_SECONDS`,
  for the re-drive of stalled requests and in case a scheduled run was lost). Its real runs
  are scheduled for when the earliest SLA threshold falls due (`next_due_at` of the clocks):
  each watchdog run schedules the next one as it ends, and every publication of changes (after
  `advance` and intake, `govflow.publishing.publish_changes_now`) brings it
  forward when a clock now falls due earlier. At most one such run waits at a time: an
  earlier one replaces the later. Runs are never closer than `MIN_GAP` (a burst of due
  clocks is one sweep), so a warning fires within MIN_GAP plus the runner's poll of its due
  time.
- Intake is webhook-first: a Jira webhook records the ticket at once (`govflow.receiver`),
  and the poll only reconciles what a webhook may have missed, every `RECONCILE_SECONDS`,
  unless GOVFLOW_INTAKE_INTERVAL_SECONDS says otherwise or no webhook secret is configured
  (then the poll is the only way in, at its old 30 s).
- Finished intake and watchdog runs older than GOVFLOW_HOUSEKEEPING_RETENTION_HOURS are
  deleted by the watchdog (`prune_housekeeping_runs`); request runs (`advance`) are kept.

An idle day: 24 safety runs of the watchdog and 48 reconciliation polls, 72 runs in all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound
from prefect.states import Scheduled
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from integrations.db.models import SlaClockRow

WATCHDOG_SAFETY_SECONDS = 3600
RECONCILE_SECONDS = 1800
POLL_ONLY_SECONDS = 30
MIN_GAP = timedelta(seconds=20)
PRUNE_BATCH = 200
FINISHED = [StateType.COMPLETED, StateType.CANCELLED, StateType.FAILED, StateType.CRASHED]


def intake_interval(settings: Settings) -> int:
    """Seconds between intake polls: a reconciliation poll when Jira webhooks are configured."""
    if "intake_interval_seconds" in settings.model_fields_set:
        return settings.intake_interval_seconds
    return RECONCILE_SECONDS if settings.jira_webhook_secret else POLL_ONLY_SECONDS


def watchdog_interval(settings: Settings) -> int:
    """Seconds between the watchdog's safety runs (its real runs are scheduled when due)."""
    if "watchdog_interval_seconds" in settings.model_fields_set:
        return settings.watchdog_interval_seconds
    return WATCHDOG_SAFETY_SECONDS


def watchdog_deployment(settings: Settings) -> str:
    """The watchdog deployment's full name, `flow/deployment`."""
    return f"sla-watchdog/{settings.installation}-sla-watchdog"


def housekeeping_deployments(settings: Settings) -> list[str]:
    """The deployments whose finished runs are pruned."""
    return [f"intake/{settings.installation}-intake", watchdog_deployment(settings)]


def earliest_due(session: Session) -> datetime | None:
    """When the watchdog must next look: the earliest `next_due_at` of any clock."""
    return session.scalar(
        select(func.min(SlaClockRow.next_due_at)).where(SlaClockRow.next_due_at.is_not(None))
    )


def schedule_watchdog(
    client: SyncPrefectClient,
    deployment_id: UUID,
    due: datetime | None,
    now: datetime,
    *,
    last_run: datetime | None = None,
) -> UUID | None:
    """Make sure a watchdog run is scheduled no later than `due`; returns the run that is.

    A waiting run at or before `due` is kept; later waiting runs are dropped (the one made
    here, or the next run's own scheduling, covers them). Nothing due: nothing scheduled.
    """
    if due is None:
        return None
    when = max(due, now, (last_run + MIN_GAP) if last_run is not None else now)
    waiting = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])
            ),
        ),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=20,
    )
    kept: UUID | None = None
    for run in waiting:
        start = run.expected_start_time or run.next_scheduled_start_time
        if kept is None and start is not None and start <= when:
            kept = run.id
        elif run.state_type is StateType.SCHEDULED and kept is not None:
            _delete(client, run.id)
    if kept is not None:
        return kept
    created = client.create_flow_run_from_deployment(
        deployment_id,
        state=Scheduled(scheduled_time=when),
        # Two publications racing to schedule the same instant make one run.
        idempotency_key=f"due-{when:%Y%m%dT%H%M%S}",
        tags=["sla", "due"],
    )
    for run in waiting:  # now that the earlier run exists, drop the later ones
        if run.state_type is StateType.SCHEDULED:
            _delete(client, run.id)
    return created.id


def deployment_id(client: SyncPrefectClient, name: str) -> UUID | None:
    """The id of a deployment by `flow/deployment` name; None before it is first served."""
    try:
        return client.read_deployment_by_name(name).id
    except ObjectNotFound:
        return None


def prune_housekeeping_runs(
    client: SyncPrefectClient, deployment_ids: Iterable[UUID], before: datetime
) -> int:
    """Delete finished runs of these deployments that ended before `before`; how many."""
    ids = list(deployment_ids)
    if not ids:
        return 0
    old = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=FINISHED)),
            end_time=FlowRunFilterEndTime(before_=before),
        ),
        limit=PRUNE_BATCH,
    )
    for run in old:
        _delete(client, run.id)
    return len(old)


def _delete(client: SyncPrefectClient, run_id: UUID) -> None:
    # Gone already (another runner pruned or replaced it first) is the outcome wanted.
    with contextlib.suppress(ObjectNotFound):
        client.delete_flow_run(run_id)


def keep_watchdog_scheduled(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, *, ran_at: datetime | None
) -> UUID | None:
    """Schedule the watchdog for the earliest due clock; `ran_at`: a watchdog run just swept.

    Called as each watchdog run ends and after every publication of changes. Does nothing
    before the runner first served the watchdog's deployment.
    """
    with sessions.begin() as session:
        due = earliest_due(session)
    if due is None:
        return None
    with get_client(sync_client=True) as client:
        found = deployment_id(client, watchdog_deployment(settings))
        if found is None:
            return None
        return schedule_watchdog(client, found, due, now, last_run=ran_at)


def prune(settings: Settings, now: datetime) -> int:
    """Delete finished housekeeping runs older than the configured retention; how many."""
    before = now - timedelta(hours=settings.housekeeping_retention_hours)
    with get_client(sync_client=True) as client:
        ids = [d for n in housekeeping_deployments(settings) if (d := deployment_id(client, n))]
        return prune_housekeeping_runs(client, ids, before)
