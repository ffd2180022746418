"""Reminders to attest, on each team's calendar, until the person attests (issue 15).

SQLite and PostgreSQL. The case takes effect on Thursday 10 Dec 2026 and the shipped rules
remind from 2 working days before: QA (Kuala Lumpur) from Tuesday 8 Dec; BPO (Manila) from
Monday 7 Dec, since 8 Dec is a public holiday in the Philippines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.rules import Rules
from domain.training import build_training_case
from govflow.training import attestation_report, remind_attesters
from integrations.db.engine import make_sessionmaker
from integrations.db.models import OutboxRow, RequestRow
from integrations.db.training import record_attestation, save_case

EFFECTIVE = date(2026, 12, 10)
BASE = "# SOP\n\n## 1. Purpose\n\nOld words.\n"
NEW = "# SOP\n\n## 1. Purpose\n\nNew words.\n"


@pytest.fixture
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


@pytest.fixture
def session(ledger: Engine) -> Iterator[Session]:
    with make_sessionmaker(ledger).begin() as session:
        yield session


def at(day: int, hour_utc: int) -> datetime:
    return datetime(2026, 12, day, hour_utc, tzinfo=UTC)


@pytest.fixture
def case(session: Session) -> None:
    now = at(4, 2)
    row = RequestRow(
        jira_key="MODREQ-7",
        jira_id="7",
        project="MODREQ",
        stage="DONE",
        jira_updated=now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    built = build_training_case(
        sop_id="SOP-LST-002",
        version=2,
        based_on_version=1,
        effective_date=EFFECTIVE,
        jira_key="MODREQ-7",
        summary="Serial-number photos",
        base_text=BASE,
        new_text=NEW,
        rationale="Complaints rose.",
    )
    assert save_case(session, built, request_id=row.id, teams=["bpo_ops", "qa"], now=now)
    assert not save_case(session, built, request_id=row.id, teams=["bpo_ops", "qa"], now=now)


def reminded(session: Session) -> list[str]:
    rows = session.scalars(select(OutboxRow).where(OutboxRow.kind == "slack_dm")).all()
    return sorted(f"{r.payload['user']}@{r.idempotency_key.rsplit(':', 1)[1]}" for r in rows)


def test_reminders_follow_each_calendar_and_stop_on_attestation(
    session: Session, rules: Rules, case: None
) -> None:
    """Once a day in working hours, from each team's start, never after attesting."""
    # Friday: too early for everyone.
    assert remind_attesters(session, rules, at(4, 3)) == 0
    # Monday 10:00 in Manila and Kuala Lumpur: BPO only (Tuesday is a holiday in Manila).
    assert remind_attesters(session, rules, at(7, 2)) == 2
    assert reminded(session) == ["U0BP00001@2026-12-07", "U0BP00002@2026-12-07"]
    # Later the same day: nobody twice.
    assert remind_attesters(session, rules, at(7, 6)) == 0
    # Tuesday: QA starts; BPO's floor is closed for the holiday.
    assert remind_attesters(session, rules, at(8, 2)) == 2
    assert "U0QA00001@2026-12-08" in reminded(session)
    # Grace attests: Wednesday reminds the other three.
    record_attestation(
        session,
        sop_id="SOP-LST-002",
        version=2,
        person="U0BP00001",
        team="bpo_ops",
        correct=0,
        questions=0,
        now=at(8, 3),
    )
    assert remind_attesters(session, rules, at(9, 2)) == 3
    wednesday = [r for r in reminded(session) if r.endswith("2026-12-09")]
    assert wednesday == ["U0BP00002@2026-12-09", "U0QA00001@2026-12-09", "U0QA00002@2026-12-09"]
    # Outside working hours (22:00 in both zones): nothing.
    assert remind_attesters(session, rules, at(9, 14)) == 0
    # The effective date has come: reminders are over.
    assert remind_attesters(session, rules, at(10, 2)) == 0


def test_report_lists_everyone_to_attest(session: Session, rules: Rules, case: None) -> None:
    """The report has every roster member of the attesting teams, attested or not."""
    record_attestation(
        session,
        sop_id="SOP-LST-002",
        version=2,
        person="U0QA00002",
        team="qa",
        correct=0,
        questions=0,
        now=at(8, 3),
    )
    assert not record_attestation(
        session,
        sop_id="SOP-LST-002",
        version=2,
        person="U0QA00002",
        team="qa",
        correct=0,
        questions=0,
        now=at(8, 4),
    )
    found = attestation_report(session, rules, "SOP-LST-002")
    assert found is not None
    case_, lines = found
    assert case_.version == 2
    done = {line.person: line.attested_at for line in lines}
    assert set(done) == {"U0BP00001", "U0BP00002", "U0QA00001", "U0QA00002"}
    assert done["U0QA00002"] == at(8, 3)
    assert [p for p, when in done.items() if when is None] == [
        "U0BP00001",
        "U0BP00002",
        "U0QA00001",
    ]
    assert attestation_report(session, rules, "SOP-LST-002", 3) is None
