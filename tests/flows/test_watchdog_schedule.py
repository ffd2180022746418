"""The watchdog runs when a clock falls due (real Prefect server), and old runs are pruned."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Completed
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from flows.intake import intake
from flows.sla_watchdog import sla_watchdog
from govflow.runtime import utc_now
from govflow.schedules import (
    MIN_GAP,
    RECONCILE_SECONDS,
    WATCHDOG_SAFETY_SECONDS,
    intake_interval,
    keep_watchdog_scheduled,
    prune_housekeeping_runs,
    schedule_watchdog,
    watchdog_deployment,
    watchdog_interval,
)
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, SlaClockRow

pytestmark = pytest.mark.prefect


def waiting_runs(deployment: UUID) -> list[tuple[UUID, object]]:
    """The deployment's scheduled runs as (id, expected start)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
            )
        )
    return [(r.id, r.expected_start_time) for r in runs]


@pytest.fixture
def installation(prefect_api: str) -> Iterator[tuple[Settings, UUID]]:
    """A watchdog deployment of a fresh installation name, registered on the server."""
    settings = Settings(installation=f"t{uuid.uuid4().hex[:8]}")
    deployment = cast(
        RunnerDeployment,
        sla_watchdog.to_deployment(name=f"{settings.installation}-sla-watchdog"),
    )
    deployment_id = cast(UUID, deployment.apply())
    yield settings, deployment_id


class TestScheduleWatchdog:
    def test_one_waiting_run_at_the_earliest_due_time(
        self, installation: tuple[Settings, UUID]
    ) -> None:
        """Scheduled at the due time; the same due keeps it; an earlier due replaces it."""
        _, deployment = installation
        now = utc_now()
        with get_client(sync_client=True) as client:
            later = schedule_watchdog(client, deployment, now + timedelta(hours=1), now)
            again = schedule_watchdog(client, deployment, now + timedelta(hours=1), now)
            sooner = schedule_watchdog(client, deployment, now + timedelta(minutes=10), now)
        assert later == again
        assert sooner != later
        [(run, start)] = waiting_runs(deployment)
        assert run == sooner
        assert start == now + timedelta(minutes=10)

    def test_past_due_runs_now_but_not_closer_than_the_gap(
        self, installation: tuple[Settings, UUID]
    ) -> None:
        """Already due: at once; right after a sweep: MIN_GAP after it."""
        _, deployment = installation
        now = utc_now()
        with get_client(sync_client=True) as client:
            schedule_watchdog(client, deployment, now - timedelta(minutes=5), now, last_run=now)
        [(_, start)] = waiting_runs(deployment)
        assert start == now + MIN_GAP

    def test_nothing_due_schedules_nothing(
        self, installation: tuple[Settings, UUID], ledger: Engine
    ) -> None:
        """No clock with a threshold ahead: no run."""
        settings, deployment = installation
        sessions = make_sessionmaker(ledger)
        assert keep_watchdog_scheduled(sessions, settings, utc_now(), ran_at=None) is None
        assert waiting_runs(deployment) == []


class TestPrune:
    def test_finished_runs_before_the_cutoff_are_deleted(
        self, installation: tuple[Settings, UUID]
    ) -> None:
        """A completed run is pruned once older than the cutoff; a waiting one stays."""
        _, deployment = installation
        with get_client(sync_client=True) as client:
            done = client.create_flow_run_from_deployment(deployment)
            client.set_flow_run_state(done.id, Completed(), force=True)
            waiting = client.create_flow_run_from_deployment(deployment)
            assert (
                prune_housekeeping_runs(client, [deployment], utc_now() - timedelta(hours=1)) == 0
            )
            assert (
                prune_housekeeping_runs(client, [deployment], utc_now() + timedelta(minutes=1)) == 1
            )
            remaining = {
                r.id
                for r in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        deployment_id=FlowRunFilterDeploymentId(any_=[deployment])
                    )
                )
            }
        assert remaining == {waiting.id}


class TestIntervals:
    def test_follow_the_work_unless_set(self) -> None:
        """Webhooks configured: a 30 min reconciliation poll; set: the interval given."""
        assert intake_interval(Settings(jira_webhook_secret="s")) == RECONCILE_SECONDS
        assert intake_interval(Settings()) == 30
        assert intake_interval(Settings(intake_interval_seconds=45)) == 45
        assert watchdog_interval(Settings()) == WATCHDOG_SAFETY_SECONDS
        assert watchdog_interval(Settings(watchdog_interval_seconds=60)) == 60

    def test_an_idle_day_is_under_a_hundred_runs(self) -> None:
        """With webhooks, and nothing due: the safety runs and the reconciliation polls."""
        settings = Settings(jira_webhook_secret="s")
        day = 24 * 3600
        assert day // intake_interval(settings) + day // watchdog_interval(settings) < 100


class TestWarningOnTime:
    def test_a_warning_fires_within_a_minute_of_its_due_time(
        self, pipeline_env: dict[str, str], prefect_api: str, ledger: Engine
    ) -> None:
        """The runner, serving the watchdog with no minute timer, fires a warning on time."""
        intake()  # routes the seeded tickets: their clocks run, first warnings hours away
        sessions = make_sessionmaker(ledger)
        name = f"t{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            **pipeline_env,
            "PREFECT_API_URL": prefect_api,
            "GOVFLOW_INSTALLATION": name,
            "GOVFLOW_JIRA_WEBHOOK_SECRET": "webhooks-configured",
            # Whatever the runner's default: no timer may be what makes the warning fire.
            "GOVFLOW_WATCHDOG_INTERVAL_SECONDS": "3600",
            "GOVFLOW_INTAKE_INTERVAL_SECONDS": "3600",
        }
        runner = subprocess.Popen(
            [sys.executable, "-m", "flows.runner"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            settings = Settings(installation=name)
            deadline = time.monotonic() + 120
            with get_client(sync_client=True) as client:
                while True:
                    try:
                        client.read_deployment_by_name(watchdog_deployment(settings))
                        break
                    except ObjectNotFound:  # not served yet
                        assert time.monotonic() < deadline, "the runner did not serve"
                        time.sleep(1)
            due = utc_now() + timedelta(seconds=20)
            clock_id = make_first_warning_due(sessions, due)
            # What every publication of a change does (the clock just moved).
            keep_watchdog_scheduled(sessions, settings, utc_now(), ran_at=None)
            fired = wait_for_warning(sessions, clock_id, deadline=time.monotonic() + 150)
        finally:
            runner.terminate()
            try:
                runner.wait(timeout=30)
            except subprocess.TimeoutExpired:
                runner.kill()
        assert fired is not None, "the warning did not fire"
        assert fired - due < timedelta(seconds=60), f"fired {fired - due} after its due time"


def make_first_warning_due(sessions: sessionmaker[Session], due: datetime) -> int:
    """Move one running clock's first warning to `due` (as if its calendar said so)."""
    with sessions.begin() as session:
        row = session.scalars(select(SlaClockRow).where(SlaClockRow.status == "running")).first()
        assert row is not None and row.schedule is not None
        entries = [list(e) for e in row.schedule["at"]]
        entries[0][1] = due.isoformat()
        session.execute(
            update(SlaClockRow)
            .where(SlaClockRow.id == row.id)
            .values(schedule={**row.schedule, "at": entries}, next_due_at=due)
        )
        return row.id


def wait_for_warning(
    sessions: sessionmaker[Session], clock_id: int, *, deadline: float
) -> datetime | None:
    """When the warning of that clock was audited; None if not by the deadline."""
    while time.monotonic() < deadline:
        with sessions.begin() as session:
            for row in session.scalars(select(AuditRow).where(AuditRow.action == "sla_warning")):
                if row.detail.get("clock_id") == clock_id:
                    return row.at
        time.sleep(1)
    return None
