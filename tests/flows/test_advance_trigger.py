"""The watchdog's last-resort re-drive: `advance` run in-process, as a subflow of its task run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlalchemy import Engine, select

from domain.lifecycle import Claim
from domain.people import Person
from flows.intake import intake
from flows.sla_watchdog import sla_watchdog
from govflow.runtime import utc_now
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import EventRow, RequestRow
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox

pytestmark = pytest.mark.prefect
KEY = "MODREQ-1"
EXPERT = Person(slack_id="U0EX00003")


def test_a_stalled_request_is_advanced_by_the_watchdog_itself(
    pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
) -> None:
    """No runner took a click for minutes: the watchdog's run applies it, as a named subflow."""
    started = utc_now()
    intake()
    sessions = make_sessionmaker(ledger)
    stalled_since = utc_now() - timedelta(minutes=5)
    with sessions.begin() as session:
        request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == KEY))
        assert request_id is not None
        claim = Claim(event_id="stalled-claim", actor=EXPERT, at=stalled_since)
        record_event(
            session,
            request_id=request_id,
            kind=claim.kind,
            actor=EXPERT.slack_id,
            payload=claim.model_dump(mode="json"),
            dedupe_key=claim.event_id,
            now=stalled_since,
        )

    summary = sla_watchdog()

    assert summary["redriven"] == 1
    with sessions.begin() as session:
        event = session.scalar(select(EventRow).where(EventRow.dedupe_key == "stalled-claim"))
        assert event is not None and event.processed_at is not None
        row = session.get(RequestRow, request_id)
        assert row is not None and row.assignee == EXPERT.slack_id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"{KEY} · EXPERT_REVIEW"]))
        )
    # The session's Prefect server keeps other tests' runs of the same ticket.
    [run] = [r for r in runs if r.created is not None and r.created >= started]
    assert run.parent_task_run_id is not None  # inside the watchdog's re-drive task
    assert {KEY, "EXPERT_REVIEW", "advance"} <= set(run.tags)
