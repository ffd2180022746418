"""Issue to SOP-update stage driven only by Slack clicks and modal submissions (real Prefect).

The Slack stand-in delivers signed interactions to the receiver served in-process; the
receiver only records them (its production trigger, `ledger_only`, submits nothing to
Prefect); the runner's dispatcher, in a thread here, finds the events in the ledger and runs
`advance` as named flow runs on the real Prefect server, as it does under `govflow serve`.
This is the ledger path alone, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlalchemy import Engine, select

from domain.stages import Stage
from flows.advance import run_advance
from flows.intake import intake
from govflow.dispatch import Dispatcher
from govflow.receiver import create_app, ledger_only
from govflow.runtime import Runtime, utc_now
from govflow.sop_import import import_sops
from integrations.db.engine import make_sessionmaker
from integrations.db.models import EventRow, OutboxRow, RequestRow
from integrations.db.sops import latest_versions
from integrations.slack.action_ids import ActionId
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from tests.support.waiting import eventually

pytestmark = pytest.mark.prefect
KEY = "MODREQ-1"


@pytest.fixture
def dispatcher(pipeline_env: dict[str, str], ledger: Engine) -> Iterator[Dispatcher]:
    """The runner's dispatcher, in a thread carrying the test server's Prefect settings."""
    stop = threading.Event()
    dispatch = Dispatcher(engine=ledger, run=run_advance, clock=utc_now, workers=2)
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(dispatch.serve, stop), daemon=True)
    thread.start()
    yield dispatch
    stop.set()
    thread.join(timeout=60)


@pytest.fixture
def receiver(
    pipeline_env: dict[str, str], slack: SlackSandbox, dispatcher: Dispatcher, ledger: Engine
) -> Iterator[ThreadedServer]:
    """The receiver served on a free port, with the Slack stand-in delivering to it.

    On the way out it waits until every event this test caused is applied.
    """
    runtime = Runtime.load()
    app = create_app(runtime, advance=ledger_only)
    with ThreadedServer(app) as server:
        slack.configure_receiver(
            f"{server.url}/slack/events", pipeline_env["GOVFLOW_SLACK_SIGNING_SECRET"]
        )
        yield server
        eventually(lambda: quiet(ledger) and dispatcher.idle(), timeout=60)


def quiet(engine: Engine) -> bool:
    """No event waits to be applied."""
    with make_sessionmaker(engine).begin() as session:
        return (
            session.scalar(select(EventRow.id).where(EventRow.processed_at.is_(None)).limit(1))
            is None
        )


class Pipeline:
    """Reads the ledger and finds the cards govflow posted, to click them like people."""

    def __init__(self, engine: Engine, slack: SlackSandbox) -> None:
        self.sessions = make_sessionmaker(engine)
        self.slack = slack

    def request(self) -> RequestRow:
        with self.sessions.begin() as session:
            return session.execute(
                select(RequestRow).where(RequestRow.jira_key == KEY)
            ).scalar_one()

    def card(self, suffix: str) -> tuple[str, str]:
        """Channel and ts of a card, once its posting effect is delivered."""

        def posted() -> tuple[str, str] | None:
            with self.sessions.begin() as session:
                row = session.scalar(
                    select(OutboxRow).where(OutboxRow.idempotency_key == f"{KEY}:{suffix}")
                )
                if row is None or "ts" not in row.result:
                    return None
                return str(row.result["channel"]), str(row.result["ts"])

        return eventually(posted, timeout=30)

    def wait_for(self, predicate: Callable[[RequestRow], bool]) -> RequestRow:
        def matching() -> RequestRow | None:
            row = self.request()
            return row if predicate(row) else None

        return eventually(matching, timeout=30)

    def click(self, suffix: str, action: ActionId, user: str) -> None:
        channel, ts = self.card(suffix)
        answer = self.slack.click(channel, ts, action, user)
        assert answer.status == 200, answer.body

    def submit_latest_view(self, user: str, values: dict[str, Any]) -> None:
        view = eventually(lambda: self.slack.views(user=user), timeout=30)[-1]
        answer = self.slack.submit_view(view.id, user, values)
        assert answer.status == 200 and answer.body == "", answer.body


def roster_ids(state: dict[str, Any], team: str) -> list[str]:
    from config.loader import load_rules
    from config.settings import DEFAULT_RULES

    return [p for p in load_rules(DEFAULT_RULES).teams[team].roster if p.startswith("U")]


def test_clicks_and_modals_take_a_ticket_to_a_published_sop(
    receiver: ThreadedServer, ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
) -> None:
    """Clicks and modals alone take MODREQ-1 through sign-off to a published, announced SOP."""
    runtime = Runtime.load()
    with runtime.sessions.begin() as session:
        import_sops(
            session, runtime.settings.rules.parent / runtime.rules.sops.directory, utc_now()
        )
    intake()
    pipeline = Pipeline(ledger, slack)
    state = pipeline.request().state
    assert state is not None
    expert = roster_ids(state, state["expert_team"])[0]

    pipeline.click("assignment:0", ActionId.CLAIM, expert)
    pipeline.wait_for(lambda row: row.assignee == expert)
    pipeline.click("assignment:0", ActionId.ASSESS, expert)
    pipeline.submit_latest_view(
        expert,
        {
            "recommendation": "PROCEED",
            "risk": "MEDIUM",
            "proposed_change": "### 3.2 Luxury handbags\nA serial-number photo above MYR 1,500.",
            "affected_sops": ["SOP-LST-002"],
            "rationale": "Counterfeit complaints rose 40%; a second check is cheap.",
        },
    )
    row = pipeline.wait_for(lambda row: row.stage == Stage.SIGN_OFF)
    assert row.state is not None
    round_ = row.state["round"]

    for signoff in row.state["signoff"]:
        team = signoff["team"]
        for approver in roster_ids(row.state, team):
            pipeline.click(f"approval:{round_}:{team}", ActionId.APPROVE, approver)
    final = pipeline.wait_for(lambda row: row.stage == Stage.SOP_UPDATE)
    assert final.assignee == expert
    eventually(
        lambda: [t.to_status for t in jira.transitions_done(KEY)][-1:] == ["Implementing"],
        timeout=30,
    )
    # The run renames and tags itself after delivering, so the UI may lag the ledger a little.
    eventually(lambda: flow_run_tags(f"{KEY} · SOP_UPDATE") >= {KEY, "SOP_UPDATE"}, timeout=30)

    owner = roster_ids(final.state or {}, (final.state or {})["sop_owner_team"])[0]
    card = eventually(lambda: pipeline.request().facts.get("sop_update_card"), timeout=30)
    pipeline.click(card.removeprefix(f"{KEY}:"), ActionId.SOP_PUBLISH, owner)
    pipeline.wait_for(lambda row: row.stage == Stage.DONE)

    eventually(
        lambda: [t.to_status for t in jira.transitions_done(KEY)][-1:] == ["Done"], timeout=30
    )
    announcements = eventually(
        lambda: [m for m in slack.messages("C0TR00001") if "SOP-LST-002 v2 is published" in m.text],
        timeout=30,
    )
    assert len(announcements) == 1
    with pipeline.sessions.begin() as session:
        versions = latest_versions(session, ["SOP-LST-002"])
    assert versions["SOP-LST-002"].jira_key == KEY


def flow_run_tags(name: str) -> set[str]:
    """Tags of the newest flow run with this name (empty when there is none)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )
    return set(runs[0].tags) if runs else set()


def test_question_waits_for_the_requester_and_a_polled_reply_resumes(
    receiver: ThreadedServer, ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
) -> None:
    """Ask pauses in NEEDS_INFO; the requester's Jira reply, read by the poll, resumes."""
    intake()
    pipeline = Pipeline(ledger, slack)
    state = pipeline.request().state or {}
    expert = roster_ids(state, state["expert_team"])[0]
    pipeline.click("assignment:0", ActionId.ASK, expert)
    pipeline.submit_latest_view(expert, {"question": "Which handbag brands are affected?"})
    pipeline.wait_for(lambda row: row.stage == Stage.NEEDS_INFO)
    eventually(
        lambda: any("Which handbag brands" in c.body for c in jira.comments(KEY)), timeout=30
    )

    requester = jira.snapshot(KEY)["fields"]["Reporter"]
    jira.comment_as(KEY, str(requester), "Mostly the top five luxury houses.")
    summary = intake()

    assert summary["replies"] == 1
    assert pipeline.request().stage == Stage.EXPERT_REVIEW
    assert intake()["replies"] == 0
