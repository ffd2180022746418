"""`/govflow status` and `/govflow ooo` (`govflow.commands`), without Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.people import Person
from domain.rules import Rules
from govflow.commands import ooo_dates, out_of_office, status
from integrations.db.models import AuditRow, DelegationRow
from integrations.slack.slash_command import SlashCommand, SlashKind

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # a Monday, 11:00 in Singapore
HANNAH = Person(slack_id="U0PM00001", email="hannah.schulz@example.com")  # product
KENJI = Person(slack_id="U0AL00001", email="kenji.watanabe@example.com")  # algorithm
OUTSIDER = Person(slack_id="U0ZZ00001", email="nobody@example.com")


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions.begin() as session:
        yield session


def ooo(issuer: Person, *, start: date | None = None, until: date | None = None) -> SlashCommand:
    return SlashCommand(
        kind=SlashKind.OOO,
        user_id=issuer.slack_id or "",
        delegate_id=KENJI.slack_id,
        start=start,
        until=until,
    )


def test_status_of_a_request_govflow_does_not_have(session: Session, rules: Rules) -> None:
    assert status(session, rules, "MODREQ-9") == "govflow has no request MODREQ-9."


def test_out_of_office_records_a_delegation_per_roster_entry(
    session: Session, rules: Rules
) -> None:
    """The answer names the delegate, the teams and the days; the audit says the same."""
    answer = out_of_office(session, rules, ooo(HANNAH, until=date(2026, 12, 4)), HANNAH, KENJI, NOW)

    assert answer == (
        "Recorded: <@U0AL00001> decides for you (Product) from 2026-11-30 until 2026-12-04 "
        "inclusive."
    )
    [row] = session.scalars(select(DelegationRow))
    assert (row.approver, row.delegate, row.created_by) == ("U0PM00001", "U0AL00001", "U0PM00001")
    [added] = session.scalars(select(AuditRow).where(AuditRow.action == "delegation_added"))
    assert added.actor == HANNAH.email
    assert added.detail["teams"] == ["product"]


def test_out_of_office_off_every_roster_is_refused_and_audited(
    session: Session, rules: Rules
) -> None:
    answer = out_of_office(session, rules, ooo(OUTSIDER), OUTSIDER, KENJI, NOW)

    assert answer == "You are on no govflow roster, so nobody needs to stand in for you."
    assert list(session.scalars(select(DelegationRow))) == []
    [refused] = session.scalars(select(AuditRow).where(AuditRow.action == "command_refused"))
    assert (refused.actor, refused.reason) == ("U0ZZ00001", answer)
    assert refused.detail == {"command": "ooo"}


def test_out_of_office_dates() -> None:
    """What is wrong with a period, worded for the person; None when nothing is."""
    today = date(2026, 11, 30)
    assert ooo_dates(today, date(2026, 12, 4), today) is None
    assert ooo_dates(today, date(2026, 11, 29), today) == (
        "2026-11-29 has passed; name the last day you are away."
    )
    assert ooo_dates(date(2026, 12, 5), date(2026, 12, 4), today) == (
        "2026-12-04 is before 2026-12-05."
    )
    assert ooo_dates(today, date(2028, 1, 1), today) == (
        "That is longer than a year; name the last day of this absence."
    )
