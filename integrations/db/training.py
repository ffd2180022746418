"""Training cases of published SOP versions, check answers and attestations (migration 0010).

Each is written at most once: a case per SOP version, an answer per person, version and
question, an attestation per person and version (INSERT ... ON CONFLICT DO NOTHING), so a
double click, a replayed delivery or a re-run step records nothing twice, and the functions
say whether this call was the one that recorded it. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

from domain.training import TrainingCase
from integrations.db.types import UtcDateTime
from integrations.db.upsert import insert_ignore

_metadata = MetaData()
_ID = BigInteger().with_variant(Integer(), "sqlite")
cases = Table(
    "training_cases",
    _metadata,
    Column("id", _ID, primary_key=True),
    Column("sop_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("request_id", _ID),
    Column("jira_key", String(64), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("teams", JSON, nullable=False),
    Column("case", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
answers = Table(
    "training_answers",
    _metadata,
    Column("id", _ID, primary_key=True),
    Column("sop_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("person", String(320), nullable=False),
    Column("question", String(16), nullable=False),
    Column("answer", Boolean, nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("answered_at", UtcDateTime, nullable=False),
)
attestations = Table(
    "attestations",
    _metadata,
    Column("id", _ID, primary_key=True),
    Column("sop_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("person", String(320), nullable=False),
    Column("team", String(64), nullable=False),
    Column("correct", Integer, nullable=False),
    Column("questions", Integer, nullable=False),
    Column("attested_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class StoredCase:
    """A training case as the ledger keeps it, with the request that published it."""

    case: TrainingCase
    request_id: int | None
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Attestation:
    """One person's attestation of one SOP version."""

    person: str
    team: str
    correct: int
    questions: int
    attested_at: datetime


def save_case(
    session: Session,
    case: TrainingCase,
    *,
    request_id: int | None,
    teams: Sequence[str],
    now: datetime,
) -> bool:
    """Keep the case of an SOP version unless one is kept; True when this call kept it."""
    values: dict[str, Any] = {
        "sop_id": case.sop_id,
        "version": case.version,
        "request_id": request_id,
        "jira_key": case.jira_key,
        "effective_date": case.effective_date,
        "teams": list(teams),
        "case": case.model_dump(mode="json"),
        "created_at": now,
    }
    return insert_ignore(session, cases, values, ["sop_id", "version"])


def find_case(session: Session, sop_id: str, version: int | None = None) -> StoredCase | None:
    """The case of `version` of the SOP (default: its latest version that has one)."""
    query = select(cases).where(cases.c.sop_id == sop_id)
    if version is not None:
        query = query.where(cases.c.version == version)
    row = session.execute(query.order_by(cases.c.version.desc()).limit(1)).first()
    return _stored(row) if row is not None else None


def open_cases(session: Session, today: date) -> list[StoredCase]:
    """Cases whose version takes effect after `today` (UTC): those still reminded about."""
    query = select(cases).where(cases.c.effective_date > today).order_by(cases.c.id)
    return [_stored(row) for row in session.execute(query)]


def record_answer(
    session: Session,
    *,
    sop_id: str,
    version: int,
    person: str,
    question: str,
    answer: bool,
    correct: bool,
    now: datetime,
) -> bool:
    """Record a person's answer to one question; False when they had answered it already."""
    values: dict[str, Any] = {
        "sop_id": sop_id,
        "version": version,
        "person": person,
        "question": question,
        "answer": answer,
        "correct": correct,
        "answered_at": now,
    }
    return insert_ignore(session, answers, values, ["sop_id", "version", "person", "question"])


def answers_of(session: Session, sop_id: str, version: int, person: str) -> dict[str, bool]:
    """A person's recorded answers to a version's check, by question id."""
    query = select(answers.c.question, answers.c.answer).where(
        answers.c.sop_id == sop_id, answers.c.version == version, answers.c.person == person
    )
    return {str(q): bool(a) for q, a in session.execute(query)}


def record_attestation(
    session: Session,
    *,
    sop_id: str,
    version: int,
    person: str,
    team: str,
    correct: int,
    questions: int,
    now: datetime,
) -> bool:
    """Record that a person read the version's case; False when they had attested already."""
    values: dict[str, Any] = {
        "sop_id": sop_id,
        "version": version,
        "person": person,
        "team": team,
        "correct": correct,
        "questions": questions,
        "attested_at": now,
    }
    return insert_ignore(session, attestations, values, ["sop_id", "version", "person"])


def attestations_of(session: Session, sop_id: str, version: int) -> dict[str, Attestation]:
    """Every attestation of a version, by person."""
    query = select(attestations).where(
        attestations.c.sop_id == sop_id, attestations.c.version == version
    )
    return {
        row.person: Attestation(row.person, row.team, row.correct, row.questions, row.attested_at)
        for row in session.execute(query)
    }


def _stored(row: Any) -> StoredCase:
    return StoredCase(
        case=TrainingCase.model_validate(row.case),
        request_id=row.request_id,
        teams=tuple(row.teams or ()),
    )
