"""The sla-watchdog flow under a real Prefect server: due clocks -> Slack and Jira, once."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from prefect.client.schemas.schedules import IntervalSchedule
from slack_sdk import WebClient
from sqlalchemy import Engine

from config.loader import load_rules
from config.settings import DEFAULT_RULES, Settings
from domain.lifecycle import begin
from domain.notices import StageChanged
from domain.stages import Stage
from flows.runner import deployments
from flows.sla_watchdog import sla_watchdog
from govflow.clock_sync import sync_clocks
from govflow.runtime import utc_now
from integrations.db.clocks import clocks_of
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.requests import ensure_request, lock_request
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from tests.govflow.test_clocks_usecase import CHLOE

pytestmark = pytest.mark.prefect

KEY = "MODREQ-1"  # a seeded issue of the Jira stand-in
EXPERTS_CHANNEL = "C0EX00001"
EXPERTS_LEAD = "U0EX00003"
BANGKOK = ZoneInfo("Asia/Bangkok")  # the listing experts' calendar


class RecordingTrigger:
    """Stands in for `run_advance`: remembers which requests it was asked to advance."""

    def __init__(self) -> None:
        self.request_ids: list[int] = []

    def __call__(self, request_id: int) -> None:
        self.request_ids.append(request_id)


def breached_request(engine: Engine, slack: SlackSandbox) -> int:
    """KEY routed to the listing experts 30 days ago, with its Slack thread: long overdue."""
    rules = load_rules(DEFAULT_RULES)
    route = next(r for r in rules.routing if r.name == "review-standard-listing")
    root = WebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel=EXPERTS_CHANNEL, text=f"{KEY} root"
    )
    then = utc_now() - timedelta(days=30)
    state = begin(KEY, CHLOE, route, rules, then)
    with make_sessionmaker(engine).begin() as session:
        ensure_request(
            session,
            jira_key=KEY,
            jira_id="10001",
            project="MODREQ",
            jira_updated=then,
            stage=Stage.RECEIVED,
            now=then,
        )
        row = lock_request(session, KEY)
        row.route_name, row.expert_team, row.priority = route.name, route.expert_team, "P3"
        row.slack_channel, row.slack_thread_ts = EXPERTS_CHANNEL, str(root["ts"])
        row.state, row.stage = state.model_dump(mode="json"), state.stage.value
        routed = StageChanged(from_stage=Stage.RECEIVED, to_stage=Stage.EXPERT_REVIEW, reason="")
        sync_clocks(session, row, state, [routed], rules, then)
        record_event(
            session,
            request_id=row.id,
            kind="claim",
            actor=EXPERTS_LEAD,
            payload={},
            dedupe_key="lost-trigger",
            now=utc_now() - timedelta(minutes=5),
        )
        record_event(
            session,
            request_id=row.id,
            kind="claim",
            actor=EXPERTS_LEAD,
            payload={},
            dedupe_key="just-arrived",
            now=utc_now() + timedelta(minutes=5),
        )
        return row.id


def test_a_breached_clock_escalates_once_and_stalled_requests_are_redriven(
    pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
) -> None:
    """Thread reminder, lead DM, channel post, Jira label/comment/priority; a rerun adds none."""
    request_id = breached_request(ledger, slack)
    trigger = RecordingTrigger()

    summary = sla_watchdog(trigger=trigger)
    rerun = sla_watchdog(trigger=trigger)

    assert (summary["due_clocks"], summary["warnings"], summary["breaches"]) == (1, 2, 1)
    assert summary["requests"] == [KEY] and summary["dead"] == 0
    # The due date, the six escalation effects, and the root card showing the breach.
    assert summary["delivered"] == 8
    assert any(c.method == "chat.update" for c in slack.calls())
    assert (rerun["due_clocks"], rerun["effects_queued"], rerun["delivered"]) == (0, 0, 0)
    assert trigger.request_ids == [request_id, request_id]  # each sweep re-drives it

    messages = slack.messages(EXPERTS_CHANNEL)
    replies = [m.text for m in messages if m.thread_ts not in (None, m.ts)]
    assert len(replies) == 1 and "50% of the 5d SLA used" in replies[0]
    posts = [m.text for m in messages if m.thread_ts in (None, m.ts)]
    assert len(posts) == 2 and "passed its 5d SLA" in posts[1]
    dms = [c.args for c in slack.calls("chat.postMessage") if c.args["channel"].startswith("D")]
    assert len(dms) == 1 and "75%" in dms[0]["text"]
    fields = jira.snapshot(KEY)["fields"]
    assert "sla-breached" in fields["Labels"]
    assert fields["Priority"] == "High"  # bumped from Medium (P3)
    with make_sessionmaker(ledger).begin() as session:
        [clock] = clocks_of(session, request_id)
        assert clock.due_at is not None
        assert fields["Due date"] == clock.due_at.astimezone(BANGKOK).date().isoformat()
    assert sum("passed its service level" in c.body for c in jira.comments(KEY)) == 1


def test_the_runner_serves_the_watchdog_on_its_interval_one_at_a_time() -> None:
    """A sweep that outlasts its interval is not joined by a second one."""
    served = deployments(Settings(watchdog_interval_seconds=45))
    [watchdog] = [d for d in served if d.name == "govflow-sla-watchdog"]

    [schedule] = [s.schedule for s in watchdog.schedules or []]
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.interval == timedelta(seconds=45)
    assert watchdog.concurrency_limit == 1
    assert watchdog.concurrency_options is not None
    assert watchdog.concurrency_options.collision_strategy == "CANCEL_NEW"
