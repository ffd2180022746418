"""The training case of a published SOP version through the real pipeline (issue 15).

Stand-ins over HTTP, the receiver, the dispatcher running `advance` on the real Prefect
server, SQLite and PostgreSQL: the expert's worked examples become the case's check; the
case is posted with the announcement; reviewers of the BPO and QA rosters answer and attest
from Slack, each recorded once (double clicks included); others are refused; the
attestation report and `govflow sop export` show it. A version published with a later
effective date brings reminders, delivered to the Slack stand-in on each reviewer's team
calendar, to those who have not attested, and to nobody who has.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from domain.calendar import BusinessCalendar, DayKind
from domain.lifecycle import PublishSop
from domain.people import Person
from domain.rules import Rules
from domain.stages import Stage
from flows.intake import intake
from govflow.cli_sop import sop_app
from govflow.runtime import Runtime, utc_now
from govflow.sop_import import import_sops
from govflow.training import remind_attesters
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import OutboxRow
from integrations.db.training import answers, attestations, find_case
from integrations.delivery import Deliverer
from integrations.slack.training import ANSWER_FAILS, ANSWER_PASSES, ATTEST
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
TRAINING_CHANNEL = "C0TR00001"
PASSES = "A Coach bag at MYR 900 with its serial-number photo"
FAILS = "A Prada bag at MYR 2,400 with no serial-number photo, priced at 35% of retail"


def start(ledger: Engine, slack: SlackSandbox) -> Pipeline:
    """The shipped SOPs imported and MODREQ-1 taken in by the intake flow."""
    runtime = Runtime.load()
    with runtime.sessions.begin() as session:
        import_sops(
            session, runtime.settings.rules.parent / runtime.rules.sops.directory, utc_now()
        )
    intake()
    return Pipeline(ledger, slack)


def training_message(slack: SlackSandbox) -> Any:
    """The training case's message in the training channel, once posted."""
    return eventually(
        lambda: next(
            (m for m in slack.messages(TRAINING_CHANNEL) if m.text.startswith("Training:")), None
        ),
        timeout=30,
    )


def publish_with_examples(pipeline: Pipeline, effective: date | None = None) -> None:
    """MODREQ-1 assessed with both worked examples, signed off and published.

    Published from the owner's card (effective today), or, given `effective`, by the owner's
    publication event with that date, recorded as the receiver records a click's: the
    Publish button offers no later date yet.
    """
    state = pipeline.request().state or {}
    expert = roster_ids(state, state["expert_team"])[0]
    pipeline.click("assignment:0", _assess(), expert)
    pipeline.submit_latest_view(
        expert,
        {
            "recommendation": "PROCEED",
            "risk": "MEDIUM",
            "proposed_change": "### 3.2 Weak signals\nA luxury handbag above MYR 1,500 "
            "without a serial-number photo counts as a weak signal.",
            "affected_sops": ["SOP-LST-002"],
            "rationale": "Counterfeit complaints rose 40%; a serial-number photo is cheap.",
            "example_passes": PASSES,
            "example_fails": FAILS,
        },
    )
    row = pipeline.wait_for(lambda row: row.stage == Stage.SIGN_OFF)
    assert row.state is not None
    for signoff in row.state["signoff"]:
        for approver in roster_ids(row.state, signoff["team"]):
            pipeline.click(f"approval:{row.state['round']}:{signoff['team']}", _approve(), approver)
    done = pipeline.wait_for(lambda row: row.stage == Stage.SOP_UPDATE)
    owner = roster_ids(done.state or {}, (done.state or {})["sop_owner_team"])[0]
    card = eventually(lambda: pipeline.request().facts.get("sop_update_card"), timeout=30)
    if effective is None:
        pipeline.click(card.removeprefix(f"{KEY}:"), _publish(), owner)
    else:
        now = utc_now()
        event = PublishSop(
            event_id=f"publish-effective-{effective}",
            actor=Person(slack_id=owner),
            at=now,
            effective_date=effective,
        )
        with pipeline.sessions.begin() as session:
            record_event(
                session,
                request_id=done.id,
                kind=event.kind,
                actor=owner,
                payload=event.model_dump(mode="json"),
                dedupe_key=event.event_id,
                now=now,
            )
    pipeline.wait_for(lambda row: row.stage == Stage.DONE)


def _assess() -> Any:
    from integrations.slack.action_ids import ActionId

    return ActionId.ASSESS


def _approve() -> Any:
    from integrations.slack.action_ids import ActionId

    return ActionId.APPROVE


def _publish() -> Any:
    from integrations.slack.action_ids import ActionId

    return ActionId.SOP_PUBLISH


def value(**fields: Any) -> str:
    return json.dumps({"s": "SOP-LST-002", "v": 2, **fields}, separators=(",", ":"))


def test_training_case_posted_answered_and_attested_once(
    receiver: ThreadedServer,  # noqa: F811  (the fixture imported above)
    ledger: Engine,
    slack: SlackSandbox,
    tmp_path: Path,
    pipeline_env: dict[str, str],
) -> None:
    """Posted with the announcement; answers and attestations count once; report, export."""
    pipeline = start(ledger, slack)
    publish_with_examples(pipeline)
    message = training_message(slack)
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert "Training · SOP-LST-002 v2" in shown and "What changed" in shown
    assert "Section 3.2" in shown and "Weak signals" in shown
    assert PASSES in shown and "Counterfeit complaints rose 40%" in shown
    sessions = make_sessionmaker(ledger)
    with sessions.begin() as session:
        stored = find_case(session, "SOP-LST-002", 2)
    assert stored is not None
    assert [(q.listing, q.passes) for q in stored.case.check] == [(PASSES, True), (FAILS, False)]
    assert stored.teams == ("bpo_ops", "qa")

    deliveries = []

    def click(user: str, action: str, button: str) -> str:
        before = len(slack.ephemerals(user=user))
        answer = slack.click(TRAINING_CHANNEL, message.ts, action, user, value=button)
        assert answer.status == 200, answer.body
        deliveries.append(answer)
        return eventually(lambda: slack.ephemerals(user=user)[before:] or None, timeout=30)[-1].text

    grace, priya, elena = "U0BP00001", "U0QA00001", "U0EX00001"
    # An expert is on neither roster: refused, nothing recorded.
    assert "Only members of" in click(elena, ATTEST, value())
    assert "Recorded for q1: passes. That is right." in click(
        grace, ANSWER_PASSES, value(q="q1", a=1)
    )
    # A double click with the other answer: the first one counts.
    assert "first answer counts" in click(grace, ANSWER_FAILS, value(q="q1", a=0))
    assert "Answer the check first (q2 left)" in click(grace, ATTEST, value())
    assert "Under v2 it fails" in click(grace, ANSWER_PASSES, value(q="q2", a=1))
    assert "attestation of SOP-LST-002 v2 is recorded" in click(grace, ATTEST, value())
    assert "already attested" in click(grace, ATTEST, value())
    click(priya, ANSWER_PASSES, value(q="q1", a=1))
    click(priya, ANSWER_FAILS, value(q="q2", a=0))
    assert "2 of 2 of the check right" in click(priya, ATTEST, value())
    # Slack's retries of her last answer and of her attestation: identical bodies, nothing new.
    for delivery in deliveries[-2:]:
        assert slack.redeliver(delivery).status == 200

    with sessions.begin() as session:
        people = session.execute(
            select(attestations.c.person, attestations.c.correct).order_by(attestations.c.person)
        ).all()
        answered = session.scalar(select(func.count()).select_from(answers))
    assert people == [(grace, 1), (priya, 2)]
    assert answered == 4

    # The training message shows the progress.
    def card_now() -> str:
        found = next(m for m in slack.messages(TRAINING_CHANNEL) if m.ts == message.ts)
        return json.dumps(found.blocks, ensure_ascii=False)

    eventually(lambda: "Attested so far: 2 of 4" in card_now(), timeout=30)
    # And so does the SOP owner's card of the publishing request.
    owner_card = pipeline.request().facts["sop_update_card"]

    def owner_card_now() -> str:
        with sessions.begin() as session:
            posted = session.scalar(
                select(OutboxRow).where(OutboxRow.idempotency_key == owner_card)
            )
            assert posted is not None
            channel, ts = posted.result["channel"], posted.result["ts"]
        found = next(m for m in slack.messages(channel) if m.ts == ts)
        return json.dumps(found.blocks, ensure_ascii=False)

    eventually(lambda: "Training SOP-LST-002 v2: 2 of 4 attested" in owner_card_now(), timeout=30)

    env = {"GOVFLOW_DATABASE_URL": pipeline_env["GOVFLOW_DATABASE_URL"]}
    table = CliRunner().invoke(sop_app, ["attestations", "SOP-LST-002"], env=env)
    assert table.exit_code == 0, table.output
    assert "SOP-LST-002 v2" in table.output and "2 of 4 attested" in table.output
    assert "not yet" in table.output
    csv_out = CliRunner().invoke(
        sop_app, ["attestations", "SOP-LST-002", "--version", "2", "--csv"], env=env
    )
    assert csv_out.exit_code == 0, csv_out.output
    lines = csv_out.output.strip().split("\n")
    assert lines[0] == "sop_id,version,team,person,attested_at,correct,questions"
    assert sorted(line.split(",")[3] for line in lines[1:]) == sorted(
        ["U0BP00001", "U0BP00002", "U0QA00001", "U0QA00002"]
    )

    exported = CliRunner().invoke(
        sop_app, ["export", "SOP-LST-002", "--version", "2", "--out", str(tmp_path)], env=env
    )
    assert exported.exit_code == 0, exported.output
    markdown = (tmp_path / "SOP-LST-002.training.md").read_text()
    assert markdown.startswith("## Training case: SOP-LST-002 v2")
    assert f"**Now fails:** {FAILS}" in markdown and "(answer: fails)" in markdown


MANILA, KUALA_LUMPUR = ZoneInfo("Asia/Manila"), ZoneInfo("Asia/Kuala_Lumpur")


def plain_thursday(rules: Rules) -> date:
    """A Thursday two weeks or more ahead whose week, Tuesday to Thursday, is all working days
    on the BPO (Manila) and QA (Kuala Lumpur) calendars, so the test does not depend on when
    it runs."""
    calendars = [
        BusinessCalendar.from_rules(rules.calendars[rules.teams[team].calendar])
        for team in ("bpo_ops", "qa")
    ]
    day = datetime.now(UTC).date() + timedelta(days=14)
    day += timedelta(days=(3 - day.weekday()) % 7)
    while any(
        calendar.day(day - timedelta(days=back)).kind is not DayKind.WORKDAY
        for calendar in calendars
        for back in (0, 1, 2)
    ):
        day += timedelta(days=7)
    return day


def test_reminders_reach_who_has_not_attested_on_their_team_calendar(
    receiver: ThreadedServer,  # noqa: F811  (the fixture imported above)
    ledger: Engine,
    slack: SlackSandbox,
) -> None:
    """Reminders before the effective date, at each team's hours, delivered; none once attested.

    BPO (Manila) works 08:00-20:00, QA (Kuala Lumpur) 09:00-18:00, both at UTC+8: at 08:30
    on the day before the effective date only BPO is reminded, at 10:00 QA too, and Grace,
    who attested from Slack, never.
    """
    runtime = Runtime.load()
    pipeline = start(ledger, slack)
    effective = plain_thursday(runtime.rules)
    publish_with_examples(pipeline, effective)
    message = training_message(slack)
    assert f"effective {effective.isoformat()}" in message.text

    grace = "U0BP00001"
    for action, button in (
        (ANSWER_PASSES, value(q="q1", a=1)),
        (ANSWER_FAILS, value(q="q2", a=0)),
        (ATTEST, value()),
    ):
        before = len(slack.ephemerals(user=grace))
        assert slack.click(TRAINING_CHANNEL, message.ts, action, grace, value=button).status == 200
        eventually(lambda before=before: slack.ephemerals(user=grace)[before:], timeout=30)
    sessions = make_sessionmaker(ledger)
    with sessions.begin() as session:
        assert session.execute(select(attestations.c.person)).scalars().all() == [grace]

    def remind_and_deliver(now: datetime) -> dict[str, str]:
        """The intake pass's reminder step and the runner's delivery, at `now`: who got what."""
        with runtime.sessions.begin() as session:
            remind_attesters(session, runtime.rules, now)
        deliverer = Deliverer(
            sessions=runtime.sessions, jira=runtime.jira, slack=runtime.slack, clock=lambda: now
        )
        deliverer.deliver_due()
        delivered: dict[str, str] = {}
        with sessions.begin() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.idempotency_key.contains(":training-remind:"))
            ).all()
            for row in rows:
                assert row.status == "sent", (row.idempotency_key, row.status)
                posted = next(
                    m for m in slack.messages(row.result["channel"]) if m.ts == row.result["ts"]
                )
                delivered[row.idempotency_key] = f"{row.payload['user']}: {posted.text}"
        return delivered

    # Weeks before the effective date: nobody yet.
    assert remind_and_deliver(utc_now()) == {}
    eve = effective - timedelta(days=1)
    # 08:30 the day before: the BPO floor is open, QA's office is not.
    early = remind_and_deliver(datetime.combine(eve, time(8, 30), MANILA))
    assert sorted(text.split(":")[0] for text in early.values()) == ["U0BP00002"]
    reminder = next(iter(early.values()))
    assert f"SOP-LST-002 v2 takes effect on {effective.isoformat()}" in reminder
    # 10:00: QA's office is open too; BPO had theirs today already.
    morning = remind_and_deliver(datetime.combine(eve, time(10, 0), KUALA_LUMPUR))
    assert sorted(text.split(":")[0] for text in morning.values()) == [
        "U0BP00002",
        "U0QA00001",
        "U0QA00002",
    ]
    # The effective date: reminders are over.
    after = remind_and_deliver(datetime.combine(effective, time(10, 0), KUALA_LUMPUR))
    assert after == morning
    assert all(not text.startswith(grace) for text in after.values())
