"""Precedents through the real pipeline (issue 15): the Jira and Slack stand-ins over HTTP,
the receiver, the runner's dispatcher running `advance` on the real Prefect server, on
SQLite and on PostgreSQL.

The first request routed finds no history and says so; once it is published, a similar
request filed later shows it on the expert's card and in the assessment modal, with the
SOP passages of the version that publication produced.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from domain.stages import Stage
from flows.intake import intake
from govflow.runtime import Runtime, utc_now
from govflow.sop_import import import_sops
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, OutboxRow, RequestRow
from integrations.slack.action_ids import ActionId
from sandbox.jira.seed import (
    AFFECTED_SOP,
    BUSINESS_JUSTIFICATION,
    DOMAIN,
    LISTING_POLICY_CHANGE,
    MARKET,
    PRODUCT_LISTING,
    PROPOSED_CHANGE,
    REQUEST_TYPE,
)
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from tests.flows.test_signoff_flow import (  # noqa: F401  (fixtures used by name)
    KEY,
    Pipeline,
    dispatcher,
    receiver,
    roster_ids,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.prefect


def posted_card(engine: Engine, slack: SlackSandbox, key: str, suffix: str) -> dict[str, Any]:
    """The Slack message an outbox row posted, as the stand-in holds it now."""

    def delivered() -> tuple[str, str] | None:
        with make_sessionmaker(engine).begin() as session:
            row = session.scalar(
                select(OutboxRow).where(OutboxRow.idempotency_key == f"{key}:{suffix}")
            )
            if row is None or "ts" not in row.result:
                return None
            return str(row.result["channel"]), str(row.result["ts"])

    channel, ts = eventually(delivered, timeout=30)
    message = next(m for m in slack.messages(channel) if m.ts == ts)
    return {"channel": channel, "ts": ts, "text": message.text, "blocks": message.blocks}


def facts(engine: Engine, key: str) -> dict[str, Any]:
    with make_sessionmaker(engine).begin() as session:
        row = session.scalar(select(RequestRow).where(RequestRow.jira_key == key))
        assert row is not None
        return dict(row.facts)


def test_precedents_from_no_history_to_a_published_precedent(
    receiver: ThreadedServer,  # noqa: F811  (the fixture imported above)
    ledger: Engine,
    jira: JiraSandbox,
    slack: SlackSandbox,
) -> None:
    """No history on the first card; the published request shows on a later one, and in its
    assessment modal, with the new SOP version's passages."""
    runtime = Runtime.load()
    with runtime.sessions.begin() as session:
        import_sops(
            session, runtime.settings.rules.parent / runtime.rules.sops.directory, utc_now()
        )
    intake()

    first = facts(ledger, KEY)["precedents"]
    assert first["requests"] == []
    assert first["notes"][0].startswith("No history yet")
    # The seed ticket names an SOP id the registry does not hold: said, not hidden.
    assert any("SOP-PL-014 is not in the SOP registry" in n for n in first["notes"])
    # Passages from the listing SOPs the registry holds (which of the two ranks first
    # depends on the backend's scoring).
    assert first["passages"]
    assert {p["sop_id"] for p in first["passages"]} <= {"SOP-LST-001", "SOP-LST-002"}
    card = posted_card(ledger, slack, KEY, "assignment:0")
    assert "No history yet" in json.dumps(card["blocks"])

    # Take MODREQ-1 to a published SOP-LST-002 v2, as people do in Slack.
    pipeline = Pipeline(ledger, slack)
    state = pipeline.request().state or {}
    expert = roster_ids(state, state["expert_team"])[0]
    pipeline.click("assignment:0", ActionId.ASSESS, expert)
    pipeline.submit_latest_view(
        expert,
        {
            "recommendation": "PROCEED",
            "risk": "MEDIUM",
            "proposed_change": "### 3.2 Weak signals\nA luxury handbag above MYR 1,500 without "
            "a serial-number photo counts as a weak signal.",
            "affected_sops": ["SOP-LST-002"],
            "rationale": "Counterfeit complaints rose 40%; a serial-number photo is cheap.",
        },
    )
    row = pipeline.wait_for(lambda row: row.stage == Stage.SIGN_OFF)
    assert row.state is not None
    for signoff in row.state["signoff"]:
        for approver in roster_ids(row.state, signoff["team"]):
            pipeline.click(
                f"approval:{row.state['round']}:{signoff['team']}", ActionId.APPROVE, approver
            )
    done = pipeline.wait_for(lambda row: row.stage == Stage.SOP_UPDATE)
    owner = roster_ids(done.state or {}, (done.state or {})["sop_owner_team"])[0]
    sop_card = eventually(lambda: pipeline.request().facts.get("sop_update_card"), timeout=30)
    pipeline.click(sop_card.removeprefix(f"{KEY}:"), ActionId.SOP_PUBLISH, owner)
    pipeline.wait_for(lambda row: row.stage == Stage.DONE)

    # A similar request from a market with no decided request yet.
    later = jira.file_issue(
        reporter="aisyah.rahman@example.com",
        fields={
            "Summary": "Serial number photos for designer handbags in Singapore",
            "Description": "Counterfeit designer handbags pass review in SG as they did in MY.",
            REQUEST_TYPE: LISTING_POLICY_CHANGE,
            DOMAIN: PRODUCT_LISTING,
            MARKET: "SG",
            BUSINESS_JUSTIFICATION: "Counterfeit handbag complaints doubled this quarter in SG.",
            AFFECTED_SOP: "SOP-LST-002 Counterfeit listings",
            PROPOSED_CHANGE: "Ask for a serial-number photo for luxury handbags in SG.",
        },
    )
    intake()
    kept = facts(ledger, later)["precedents"]
    assert kept["requests"][0]["key"] == KEY
    assert kept["requests"][0]["outcome"] == "DONE"
    assert kept["requests"][0]["sop_versions"] == ["SOP-LST-002 v2"]
    assert "Market SG never seen" in " ".join(kept["notes"])
    # The publication's version replaced v1 in the index: what is quoted is v2's text.
    quoted = {(p["sop_id"], p["version"]) for p in kept["passages"]}
    assert ("SOP-LST-002", 2) in quoted and ("SOP-LST-002", 1) not in quoted
    with make_sessionmaker(ledger).begin() as session:
        audited = session.scalars(
            select(AuditRow).where(AuditRow.action == "precedents_found")
        ).all()
    assert any(a.detail["requests"] == [KEY] for a in audited)

    card = posted_card(ledger, slack, later, "assignment:0")
    shown = json.dumps(card["blocks"])
    assert "Similar decided requests" in shown and f"/browse/{KEY}|{KEY}>" in shown
    assert "SOP-LST-002 v2" in shown

    # The assessment modal opened from that card shows them too.
    later_expert = roster_ids({}, "listing_experts")[0]
    before = len(slack.views(user=later_expert))
    answer = slack.click(card["channel"], card["ts"], ActionId.ASSESS, later_expert)
    assert answer.status == 200, answer.body
    views = eventually(lambda: slack.views(user=later_expert)[before:] or None, timeout=30)
    modal = json.dumps(views[-1].payload)
    assert "Similar decided requests" in modal and KEY in modal
