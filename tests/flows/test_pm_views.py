"""What a PM sees while a request is in sign-off, read back from the real Prefect server.

Clicks through the Slack stand-in, the receiver and the runner's dispatcher (the fixtures of
`test_signoff_flow`) take MODREQ-1 to sign-off, where QA (2 approvals needed) and BPO
Operations each get one approval. The board, the request's journey and its Prefect events
must then say so, by name.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from sqlalchemy import Engine

from domain.stages import Stage
from flows.intake import intake
from govflow.event_feed import event_origin
from govflow.runtime import Runtime, utc_now
from govflow.sop_import import import_sops
from integrations.slack.action_ids import ActionId
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from tests.flows.test_signoff_flow import (  # noqa: F401  (fixtures)
    KEY,
    Pipeline,
    dispatcher,
    receiver,
    roster_ids,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.prefect
PRIYA, GRACE = "U0QA00001", "U0BP00001"


def artifact(api: str, key: str) -> str:
    answer = httpx.get(f"{api}/artifacts/{key}/latest")
    return str(answer.json()["data"]) if answer.status_code == 200 else ""


def board_cells(api: str) -> list[str] | None:
    """MODREQ-1's cells on the board once it shows the two approvals."""
    for line in artifact(api, "open-requests").splitlines():
        if line.startswith(f"| [{KEY}](") and "BPO Operations 1/1" in line:
            return [c.strip() for c in line.strip("|").split("|")]
    return None


def events(api: str, ledger: str) -> list[dict[str, Any]]:
    """The request's events from this test's ledger (the server holds other tests' MODREQ-1)."""
    body = {
        "filter": {
            "resource": {"id": [f"govflow.request.{KEY}"], "labels": {"govflow.ledger": ledger}},
            "order": "ASC",
        },
        "limit": 50,
    }
    answer = httpx.post(f"{api}/events/filter", json=body)
    answer.raise_for_status()
    return list(answer.json()["events"])


def journey_once(api: str, text: str) -> str | None:
    """The journey once it contains `text`."""
    journey = artifact(api, "request-modreq-1")
    return journey if text in journey else None


def decisions_once(api: str, count: int, ledger: str) -> list[dict[str, Any]] | None:
    """The request's events once `count` decisions are among them."""
    found = events(api, ledger)
    return found if sum(e["event"] == "govflow.decision.recorded" for e in found) >= count else None


def test_board_journey_and_events_in_sign_off(
    receiver: ThreadedServer,  # noqa: F811
    ledger: Engine,
    jira: JiraSandbox,
    slack: SlackSandbox,
    prefect_api: str,
) -> None:
    """Progress per team, holders by name, the journey's steps and waits, decision events."""
    runtime = Runtime.load()
    with runtime.sessions.begin() as session:
        # The SOP registry the assessment modal offers its choices from.
        import_sops(
            session, runtime.settings.rules.parent / runtime.rules.sops.directory, utc_now()
        )
    intake()
    pipeline = Pipeline(ledger, slack)
    state = pipeline.request().state or {}
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
    round_ = (row.state or {})["round"]
    pipeline.click(f"approval:{round_}:qa", ActionId.APPROVE, PRIYA)
    pipeline.click(f"approval:{round_}:bpo_ops", ActionId.APPROVE, GRACE)

    # The views take a while: publications are debounced, events are stored in batches.
    cells = eventually(lambda: board_cells(prefect_api), timeout=90, interval=0.5)
    assert cells[2] == "Stakeholder sign-off"
    assert cells[3] == "Quality Assurance, Algorithm"
    assert cells[4] == "Quality Assurance 1/2 · BPO Operations 1/1 · Algorithm 0/1"
    assert " left · due " in cells[5] or cells[5].startswith("Quality Assurance: ")
    assert "U0" not in "".join(cells)

    journey = eventually(
        lambda: journey_once(prefect_api, "BPO Operations (1 of 1"), timeout=90, interval=0.5
    )
    assert "| Claimed the request |" in journey
    assert "| Assessed: proceed | Counterfeit complaints rose 40%" in journey
    # Slack's interaction payloads name the clicker by handle: the name the ledger knows.
    assert "| priya.raman | Approved for Quality Assurance (1 of 2 approvals) |" in journey, journey
    assert "| grace.okafor | Approved for BPO Operations (1 of 1 approval) |" in journey
    assert "U0QA00001" not in journey and "U0BP00001" not in journey
    # Times on the listing experts' Bangkok clock; the clicks came seconds apart: no waits.
    assert "| when (Asia/Bangkok) | who | what | why | wait before |" in journey

    # Filtered by time, the events of the previous parameter's MODREQ-1 (the same key on the
    # same server, seconds earlier) were read in place of this one's (CI, once).
    ledger = event_origin(runtime).ledger
    found = eventually(lambda: decisions_once(prefect_api, 2, ledger), timeout=90, interval=0.5)
    decisions = [e for e in found if e["event"] == "govflow.decision.recorded"]
    related = {r["prefect.resource.id"]: r for d in decisions for r in d["related"]}
    assert related["govflow.team.qa"]["prefect.resource.name"] == "Quality Assurance"
    assert related[f"govflow.person.{PRIYA}"]["prefect.resource.name"] == "priya.raman"
    assert any(
        e["event"] == "govflow.stage.changed" and e["payload"]["to"] == "SIGN_OFF" for e in found
    )
    # The Runs page filtered by the request's tag shows its own runs, not housekeeping.
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[KEY]))
        )
    assert runs and all(run.name.startswith(f"{KEY} · ") for run in runs), [r.name for r in runs]
