"""Prefect events of requests' journeys, read back from the real Prefect server's API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prefect.events.worker import EventsWorker
from sqlalchemy import Engine

from flows.intake import intake
from govflow.event_feed import emit_new_events
from govflow.runtime import Runtime, utc_now
from govflow.sla_watchdog import sweep_due
from integrations.db.models import AuditRow
from integrations.prefect_ui.automations import install_breach_webhook
from integrations.prefect_ui.events import EventOrigin, RequestEvent, emit, event_for
from sandbox.server import ThreadedServer
from tests.domain.test_lifecycle import make_rules

pytestmark = pytest.mark.prefect
KEY = "MODREQ-1"


def events_of(api_url: str, resource: str, until: datetime) -> list[dict[str, Any]]:
    """Every event on `resource` the server stored, oldest first."""
    body = {
        "filter": {
            "resource": {"id": [resource]},
            "occurred": {
                "since": (utc_now() - timedelta(days=1)).isoformat(),
                "until": until.isoformat(),
            },
            "order": "ASC",
        },
        "limit": 50,
    }
    with httpx.Client(base_url=api_url) as api:
        answer = api.post("/events/filter", json=body)
        answer.raise_for_status()
        page = answer.json()
        events = list(page["events"])
        while page.get("next_page"):
            answer = api.get(page["next_page"])
            answer.raise_for_status()
            page = answer.json()
            events += page["events"]
    return events


def stored(api_url: str, resource: str, until: datetime, wanted: set[str]) -> list[dict[str, Any]]:
    """The resource's events once every name in `wanted` is among them (storage is batched)."""
    deadline = time.monotonic() + 60
    while True:
        found = events_of(api_url, resource, until)
        if wanted <= {e["event"] for e in found} or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


class TestJourneyEvents:
    def test_intake_and_sla_thresholds_are_events_on_the_request(
        self, pipeline_env: dict[str, str], prefect_api: str, ledger: Engine
    ) -> None:
        """Created, routed, stage changed, SLA warning and breach, with team and no repeats."""
        intake()
        runtime = Runtime.load()
        later = utc_now() + timedelta(days=60)
        report = sweep_due(runtime.sessions, runtime.rules, later)
        assert report.warnings and report.breaches
        emit_new_events(runtime)
        assert emit_new_events(runtime) == 0  # nothing new: nothing sent again

        wanted = {
            "govflow.request.created",
            "govflow.request.routed",
            "govflow.stage.changed",
            "govflow.sla.warning",
            "govflow.sla.breached",
        }
        until = later + timedelta(days=1)
        found = stored(prefect_api, f"govflow.request.{KEY}", until, wanted)
        names = [e["event"] for e in found]
        assert wanted <= set(names)
        assert len({e["id"] for e in found}) == len(found)
        change = next(e for e in found if e["event"] == "govflow.stage.changed")
        assert change["payload"]["to"] == "EXPERT_REVIEW"
        assert change["resource"]["prefect.resource.name"] == KEY
        breach = next(e for e in found if e["event"] == "govflow.sla.breached")
        teams = [r for r in breach["related"] if r["prefect.resource.role"] == "team"]
        assert len(teams) == 1
        team = teams[0]["prefect.resource.id"].removeprefix("govflow.team.")
        assert teams[0]["prefect.resource.name"] == runtime.rules.teams[team].name
        assert breach["payload"]["threshold"] == 1.0
        # Internal receipts stay in the audit table.
        assert not any("webhook" in n or "effect" in n for n in names)

    def test_two_publishers_at_once_send_each_event_once(
        self, pipeline_env: dict[str, str], prefect_api: str, ledger: Engine
    ) -> None:
        """The runner, intake and the watchdog publish from their own processes, at once.

        Without one publisher at a time both read the same mark and send the same events: a
        SQLite Prefect server then fails the flush and drops the batch.
        """
        intake()  # publishes what intake did
        runtime = Runtime.load()
        sweep_due(runtime.sessions, runtime.rules, utc_now() + timedelta(days=60))
        start = threading.Barrier(2)
        sent: list[int] = []

        def publish() -> None:
            start.wait()
            sent.append(emit_new_events(runtime))

        publishers = [threading.Thread(target=publish) for _ in range(2)]
        for publisher in publishers:
            publisher.start()
        for publisher in publishers:
            publisher.join(timeout=60)
        assert sorted(sent)[0] == 0 and sorted(sent)[1] >= 2, sent  # a warning and a breach

    def test_intake_publishes_the_board_and_each_journey(
        self, pipeline_env: dict[str, str], prefect_api: str, ledger: Engine
    ) -> None:
        """After intake: the board row of a routed request, and its journey from filing on."""
        intake()
        with httpx.Client(base_url=prefect_api) as api:
            board = api.get("/artifacts/open-requests/latest").json()["data"]
            journey = api.get("/artifacts/request-modreq-1/latest").json()["data"]
        row = next(line for line in board.splitlines() if line.startswith(f"| [{KEY}]("))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == "Expert review"
        assert cells[3].endswith("(unclaimed)")
        assert " left · due " in cells[5]
        assert " · [thread](" in cells[0]
        assert cells[6].endswith("m")  # its age, minutes old
        assert "•" not in board
        assert journey.startswith(f"# {KEY} · Expert review")
        assert "| Filed the request in Jira |" in journey
        assert "| Routed to " in journey
        assert "[Jira ticket](" in journey and "[Slack thread](" in journey
        assert "webhook" not in journey


RULES = make_rules()
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
ORIGIN = EventOrigin(installation="govflow", ledger="l")
OTHER_LEDGER = EventOrigin(installation="govflow", ledger="other-ledger")


def audit(action: str, actor: str = "govflow", **detail: Any) -> AuditRow:
    return AuditRow(id=7, request_id=1, at=AT, actor=actor, action=action, reason="", detail=detail)


class TestEventFor:
    def test_decision_names_the_approver_and_the_team(self) -> None:
        """A click: the team and the person (by name) as related resources, the verdict."""
        notice = {
            "kind": "decision_recorded",
            "decision": {
                "team": "qa",
                "verdict": "APPROVE",
                "reason": "",
                "round": 1,
                "approver": {"slack_id": "U0QA00001", "name": "Priya Raman"},
            },
            "progress": "1 of 2 approvals",
        }
        event = event_for(
            audit("decision_recorded", "U0QA00001", notice=notice), KEY, RULES, ORIGIN
        )
        assert event is not None
        assert event.event == "govflow.decision.recorded"
        assert event.resource["prefect.resource.id"] == "govflow.request.MODREQ-1"
        # Another installation's MODREQ-1, or a recreated ledger's, is told apart by label.
        assert event.resource["govflow.installation"] == "govflow"
        assert event.resource["govflow.ledger"] == "l"
        assert event.related == [
            {
                "prefect.resource.id": "govflow.team.qa",
                "prefect.resource.role": "team",
                "prefect.resource.name": "QA",
            },
            {
                "prefect.resource.id": "govflow.person.U0QA00001",
                "prefect.resource.role": "actor",
                "prefect.resource.name": "Priya Raman",
            },
        ]
        assert event.payload["verdict"] == "APPROVE"
        assert event.payload["progress"] == "1 of 2 approvals"

    def test_refusal_is_an_event_with_the_person_refused(self) -> None:
        """A refused click is `govflow.request.refused`, naming who was refused."""
        event = event_for(audit("action_refused", "U0ZZ00001"), KEY, RULES, ORIGIN)
        assert event is not None and event.event == "govflow.request.refused"
        assert event.related[0]["prefect.resource.id"] == "govflow.person.U0ZZ00001"

    def test_receipts_are_not_events_and_ids_are_stable(self) -> None:
        """Webhook receipts are not events; one audit record is always the same event id."""
        assert event_for(audit("webhook_received"), KEY, RULES, ORIGIN) is None
        first = event_for(audit("sla_breach", team="qa"), KEY, RULES, ORIGIN)
        again = event_for(audit("sla_breach", team="qa"), KEY, RULES, ORIGIN)
        other = event_for(audit("sla_breach", team="qa"), KEY, RULES, OTHER_LEDGER)
        assert first is not None and again is not None and other is not None
        assert first.id == again.id != other.id
        assert first.event == "govflow.sla.breached"


class TestBreachAutomation:
    def test_automation_calls_the_webhook_on_a_breach(self, prefect_api: str) -> None:
        """The documented Automation: a breach event makes Prefect call the webhook."""
        calls: list[dict[str, Any]] = []

        async def hook(scope: Any, receive: Any, send: Any) -> None:
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            calls.append(json.loads(body))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        with ThreadedServer(hook) as server:
            automation = install_breach_webhook(f"{server.url}/hook")
            try:
                # Another installation on the same server breaches first: not ours to call.
                emit([breach("MODREQ-78", "staging"), breach("MODREQ-77", "govflow")])
                EventsWorker.drain_all(timeout=30)
                deadline = time.monotonic() + 90
                while not calls and time.monotonic() < deadline:
                    time.sleep(0.5)
                time.sleep(3.0)  # time enough for a wrongly matched second call to arrive
            finally:
                automation.delete()
        assert calls, "Prefect did not call the webhook"
        assert calls[0]["request"] == "MODREQ-77"
        assert calls[0]["team"] == "qa"
        assert calls[0]["text"] == "SLA breached on MODREQ-77: QA sign-off passed its 1d SLA"
        assert [call["request"] for call in calls] == ["MODREQ-77"]


def breach(key: str, installation: str) -> RequestEvent:
    """An SLA breach event of `key` in `installation`, as `event_for` shapes one."""
    return RequestEvent(
        id=uuid.uuid4(),
        event="govflow.sla.breached",
        occurred=utc_now(),
        resource={
            "prefect.resource.id": f"govflow.request.{key}",
            "prefect.resource.name": key,
            "govflow.installation": installation,
            "govflow.ledger": "l",
        },
        related=[],
        payload={
            "team": "qa",
            "due_at": "2026-12-01T10:00:00+00:00",
            "reason": "QA sign-off passed its 1d SLA",
        },
    )
