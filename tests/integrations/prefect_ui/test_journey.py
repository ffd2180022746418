"""A request's journey: people's words, names not ids, waits split on the right calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.rules import Calendar
from integrations.calendars import CalendarBook
from integrations.db.models import AuditRow
from integrations.prefect_ui.journey import (
    Links,
    Names,
    Wait,
    journey_markdown,
    names_for,
    steps_of,
    waits_of,
)
from tests.domain.test_lifecycle import ELENA, LUCAS, PRIYA, Flow, make_rules

# Kuala Lumpur: UTC+8, open 09:00-18:00 Monday to Friday. QA works from Dublin here.
BASE = make_rules()
RULES = BASE.model_copy(
    update={
        "calendars": {**BASE.calendars, "dublin": Calendar(timezone="Europe/Dublin")},
        "teams": {**BASE.teams, "qa": BASE.teams["qa"].model_copy(update={"calendar": "dublin"})},
    }
)


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=UTC)


def audit(at: datetime, actor: str, action: str, reason: str = "", **detail: Any) -> AuditRow:
    return AuditRow(at=at, actor=actor, action=action, reason=reason, detail=detail)


def notice(at: datetime, actor: str, **fields: Any) -> AuditRow:
    """An audit record as advance writes it: the notice in the detail."""
    return audit(at, actor, str(fields["kind"]), notice=fields)


def trail() -> list[AuditRow]:
    """Filed Tue 10:00 local, claimed Tue 20:00, a question Wed 10:00, answered Thu 10:00,
    assessed Thu 12:00, QA approves Thu 11:00 UTC (Dublin, 3 working hours after opening)."""
    elena = ELENA.model_dump(mode="json")
    lucas = LUCAS.model_dump(mode="json")
    return [
        audit(utc(1, 2), "govflow", "webhook_received"),
        audit(utc(1, 2), "govflow", "request_created", reporter="jira-lucas"),
        audit(utc(1, 2), "govflow", "routed", "route listing", expert_team="experts"),
        audit(utc(1, 2), "govflow", "stage_changed", "routed by listing", to="EXPERT_REVIEW"),
        notice(utc(1, 12), "U0EX00001", kind="claimed", by=elena),
        notice(utc(2, 2), "U0EX00001", kind="info_requested", by=elena, question="Which markets?"),
        notice(
            utc(2, 2),
            "U0EX00001",
            kind="stage_changed",
            from_stage="EXPERT_REVIEW",
            to_stage="NEEDS_INFO",
            reason="the expert asked the requester",
        ),
        audit(utc(2, 3), "govflow", "clock_paused"),
        notice(
            utc(3, 2), "jira-lucas", kind="info_received", by=lucas, body="Only MY.", resumed=True
        ),
        notice(
            utc(3, 2),
            "jira-lucas",
            kind="stage_changed",
            from_stage="NEEDS_INFO",
            to_stage="SIGN_OFF",
            reason="the requester answered",
        ),
        notice(
            utc(3, 11),
            "U0QA00001",
            kind="decision_recorded",
            decision={
                "team": "qa",
                "verdict": "APPROVE",
                "reason": "",
                "approver": {"slack_id": "U0QA00001"},
            },
            progress="1 of 2 approvals",
        ),
        audit(utc(3, 11), "U0ZZ00009", "action_refused", "you are not on QA's roster"),
    ]


def journey() -> tuple[list[Any], list[Wait]]:
    flow = Flow.start(rules=RULES)
    flow.claim(ELENA)
    names = names_for(flow.state, {"U0ZZ00009": "zoe@example.com"})
    names.learn([PRIYA])
    steps = steps_of(trail(), RULES, names)
    return steps, waits_of(steps, flow.state, RULES, CalendarBook(RULES))


class TestSteps:
    def test_people_by_name_in_their_words_without_receipts(self) -> None:
        """Names for Slack and Jira ids, the email for an unknown clicker, no receipts."""
        steps, _ = journey()
        assert [(s.who, s.what) for s in steps] == [
            ("Lucas", "Filed the request in Jira"),
            ("govflow", "Routed to Listing Experts"),
            ("govflow", "Moved to Expert review"),
            ("Elena Petrova", "Claimed the request"),
            ("Elena Petrova", "Asked the requester a question"),
            ("Elena Petrova", "Moved to Waiting on requester"),
            ("Lucas", "Answered; work resumes"),
            ("Lucas", "Moved to Stakeholder sign-off"),
            ("Priya Raman", "Approved for QA (1 of 2 approvals)"),
            ("zoe@example.com", "Was refused"),
        ]
        assert steps[4].why == "Which markets?"
        assert steps[5].why == "the expert asked the requester"
        assert steps[9].why == "you are not on QA's roster"


class TestWaits:
    def test_a_request_with_no_steps_yet_has_no_waits(self) -> None:
        """A journey published before any visible step: no waits to pair with steps."""
        assert waits_of([], None, RULES, CalendarBook(RULES)) == []

    def test_waits_split_into_working_off_hours_and_paused(self) -> None:
        """Hand-computed on the experts' KL calendar, QA's Dublin one, and the pause."""
        _, waits = journey()
        hours = timedelta(hours=1)
        # Claimed Tue 20:00 KL after filing at 10:00: 8 h working (10-18), 2 h after closing.
        assert waits[3] == Wait(working=8 * hours, off_hours=2 * hours)
        # Asked Wed 10:00 KL: 1 h of Wednesday morning worked, 13 h of night.
        assert waits[4] == Wait(working=1 * hours, off_hours=13 * hours)
        # Answered a day later, while the request waited on the requester: all paused.
        assert waits[6] == Wait(paused=24 * hours)
        # QA approved Thu 11:00 UTC (Dublin, UTC+0 in December): 02:00 to 09:00 is night
        # in Dublin, 09:00 to 11:00 working, on QA's calendar, not the experts'.
        assert waits[8] == Wait(working=2 * hours, off_hours=7 * hours)
        assert waits[8].text == "2h working · 7h 0m off-hours"
        assert sum(waits, Wait()) == Wait(
            working=11 * hours, off_hours=22 * hours, paused=24 * hours
        )


class TestMarkdown:
    def test_links_names_and_wait_column(self) -> None:
        """Jira, thread and run links; times on the experts' wall clock; totals in the head."""
        steps, waits = journey()
        book = CalendarBook(RULES)
        text = journey_markdown(
            key="MODREQ-12",
            summary="Tighten the replica rule",
            stage="SIGN_OFF",
            held_by="QA, BPO Ops",
            steps=steps,
            waits=waits,
            links=Links(
                jira="https://jira.example.com/browse/MODREQ-12",
                thread="https://example.slack.com/archives/C1/p1",
                runs=(("MODREQ-12 · SIGN_OFF", "http://127.0.0.1:4200/runs/flow-run/abc"),),
            ),
            calendar=book.get("kuala_lumpur"),
            now=utc(4, 2),
            created_at=utc(1, 2),
        )
        lines = text.splitlines()
        assert lines[0] == "# MODREQ-12 · Stakeholder sign-off"
        assert lines[4] == (
            "[Jira ticket](https://jira.example.com/browse/MODREQ-12) · "
            "[Slack thread](https://example.slack.com/archives/C1/p1)"
        )
        assert lines[6] == (
            "**Held by** QA, BPO Ops · **Open for** 3d 0h · "
            "**Waited** 11h working · 22h 0m off-hours · 1d 0h paused"
        )
        assert lines[8] == "| when (Asia/Kuala_Lumpur) | who | what | why | wait before |"
        assert "| Tue 1 Dec 20:00 UTC+8 | Elena Petrova | Claimed the request |  | " in text
        assert "U0EX00001" not in text and "jira-lucas" not in text
        assert lines[-1] == (
            "**Prefect runs**: [MODREQ-12 · SIGN_OFF](http://127.0.0.1:4200/runs/flow-run/abc)"
        )


def test_names_fall_back_to_email_then_id() -> None:
    """A Slack id with an email in the ledger shows the email; an unknown id stays."""
    names = Names(emails={"U1": "ana@example.com"})
    assert names.of("U1") == "ana@example.com"
    assert names.of("U2") == "U2"
    names.learn([LUCAS])
    assert names.of("jira-lucas") == "Lucas" == names.of("lucas@example.com")
