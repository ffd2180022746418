"""The SLA clock repository on SQLite and PostgreSQL: creation, the due selection, its locks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, inspect, select, text
from sqlalchemy.orm import Session

from domain.stages import Stage
from integrations.db.audit import NewAudit, append_audits
from integrations.db.clocks import (
    NewClock,
    clocks_of,
    insert_clock,
    select_due,
)
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import AuditRow, OutboxRow, SlaClockRow
from integrations.db.outbox import NewEffect, enqueue_effects
from integrations.db.requests import ensure_request, lock_request

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def new_request(engine: Engine, key: str = "MODREQ-1") -> int:
    with make_sessionmaker(engine).begin() as session:
        ensure_request(
            session,
            jira_key=key,
            jira_id=key.rsplit("-", 1)[1],
            project="MODREQ",
            jira_updated=NOW,
            stage=Stage.EXPERT_REVIEW,
            now=NOW,
        )
        return lock_request(session, key).id


def clock(request_id: int, round_: int = 0, next_due_at: datetime | None = NOW) -> NewClock:
    return NewClock(
        request_id=request_id,
        stage="SIGN_OFF",
        team="qa",
        round=round_,
        calendar="kuala_lumpur",
        sla_policy="standard",
        clock={"stub": round_},
        status="running",
        next_due_at=next_due_at,
        due_at=None,
        schedule=None,
    )


def bulk_clocks(session: Session, request_id: int, dues: Sequence[datetime | None]) -> None:
    """Many clocks of one request at once (one per round), for the planner tests."""
    rows: list[dict[str, Any]] = [
        {
            "request_id": request_id,
            "stage": "SIGN_OFF",
            "team": "qa",
            "round": n,
            "calendar": "kuala_lumpur",
            "sla_policy": "standard",
            "clock": {},
            "status": "running",
            "next_due_at": due,
            "due_at": None,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n, due in enumerate(dues)
    ]
    session.execute(insert(SlaClockRow), rows)


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with parameters) sent to the database inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


class TestCreating:
    def test_the_table_and_its_indexes_exist(self, ledger: Engine) -> None:
        """Migration 0004 creates sla_clocks with the partial next_due_at index."""
        indexes = {i["name"] for i in inspect(ledger).get_indexes("sla_clocks")}
        assert {"ix_sla_clocks_next_due_at", "ix_sla_clocks_request_id"} <= indexes

    def test_migration_0005_adds_an_empty_schedule_to_existing_clocks(
        self, database_url: str
    ) -> None:
        """Clocks started before 0005 keep everything and get a NULL schedule to work out."""
        engine = make_engine(database_url)
        try:
            upgrade(engine, "0004")
            request_id = new_request(engine)
            with make_sessionmaker(engine).begin() as session:
                session.execute(
                    text(
                        "INSERT INTO sla_clocks (request_id, stage, team, round, calendar, "
                        "sla_policy, clock, status, next_due_at, created_at, updated_at) VALUES "
                        "(:r, 'SIGN_OFF', 'qa', 0, 'kuala_lumpur', 'standard', '{}', 'running', "
                        ":now, :now, :now)"
                    ),
                    {"r": request_id, "now": NOW},
                )
            upgrade(engine)
            with make_sessionmaker(engine).begin() as session:
                [row] = session.scalars(select(SlaClockRow)).all()
                assert (row.schedule, row.next_due_at, row.status) == (None, NOW, "running")
        finally:
            engine.dispose()

    def test_a_clock_is_started_once_per_request_stage_team_and_round(self, ledger: Engine) -> None:
        """A second insert of the same clock returns None and leaves the first untouched."""
        request_id = new_request(ledger)
        with make_sessionmaker(ledger).begin() as session:
            first = insert_clock(session, clock(request_id), NOW)
            again = insert_clock(session, clock(request_id), NOW + MINUTE)
            other_round = insert_clock(session, clock(request_id, round_=1), NOW)
            assert first is not None and again is None and other_round is not None
            assert [c.round for c in clocks_of(session, request_id)] == [0, 1]


class TestSelectingDue:
    def test_due_clocks_come_earliest_first_up_to_the_limit(self, ledger: Engine) -> None:
        """Only next_due_at <= now counts; NULL (nothing to fire) never does."""
        request_id = new_request(ledger)
        dues = [NOW - 3 * MINUTE, NOW + MINUTE, None, NOW - MINUTE, NOW, NOW - 2 * MINUTE]
        with make_sessionmaker(ledger).begin() as session:
            bulk_clocks(session, request_id, dues)
            picked = select_due(session, NOW, limit=3)
            assert [c.round for c in picked] == [0, 5, 3]
            assert [c.round for c in select_due(session, NOW, limit=10)] == [0, 5, 3, 4]
            assert picked[0].jira_key == "MODREQ-1"

    def test_the_selection_reads_the_next_due_at_index(self, ledger: Engine) -> None:
        """EXPLAIN of the exact statement sent shows the index, not a scan of every clock."""
        request_id = new_request(ledger)
        sessions = make_sessionmaker(ledger)
        future = [NOW + (n + 1) * MINUTE for n in range(20_000)]
        with sessions.begin() as session:
            bulk_clocks(session, request_id, [NOW - MINUTE] * 5 + future)
        with ledger.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        with sessions.begin() as session, captured_sql(ledger) as seen:
            select_due(session, NOW, limit=100)
        [(statement, parameters)] = [(s, p) for s, p in seen if "FROM sla_clocks" in s]
        explain = "EXPLAIN" if ledger.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
        with ledger.connect() as connection:
            plan = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
        text_plan = "\n".join(" ".join(str(c) for c in row) for row in plan)
        assert "ix_sla_clocks_next_due_at" in text_plan, text_plan
        assert "Seq Scan on sla_clocks" not in text_plan


@pytest.fixture
def postgres_only(ledger: Engine) -> Engine:
    """The ledger, on PostgreSQL only: SQLite has no row locks to test."""
    if ledger.dialect.name != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite serializes writers")
    return ledger


class TestLocking:
    def test_two_watchdogs_split_the_due_clocks(self, postgres_only: Engine) -> None:
        """What one sweep holds, a second one skips instead of waiting or taking it too."""
        request_ids = [new_request(postgres_only, f"MODREQ-{n}") for n in range(1, 6)]
        sessions = make_sessionmaker(postgres_only)
        with sessions.begin() as session:
            for request_id in request_ids:
                insert_clock(session, clock(request_id), NOW)
        with sessions.begin() as first, sessions.begin() as second:
            mine = {c.id for c in select_due(first, NOW, limit=3)}
            theirs = {c.id for c in select_due(second, NOW, limit=10)}
        assert len(mine) == 3 and len(theirs) == 2 and not mine & theirs

    def test_a_request_held_by_advance_is_skipped_not_waited_for(
        self, postgres_only: Engine
    ) -> None:
        """`advance` holds the request FOR UPDATE: the watchdog leaves its clocks for later."""
        held, free = new_request(postgres_only, "MODREQ-1"), new_request(postgres_only, "MODREQ-2")
        sessions = make_sessionmaker(postgres_only)
        with sessions.begin() as session:
            insert_clock(session, clock(held), NOW)
            insert_clock(session, clock(free), NOW)
        with sessions.begin() as advance, sessions.begin() as watchdog:
            lock_request(advance, "MODREQ-1")
            watchdog.execute(text("SET LOCAL lock_timeout = '2s'"))
            picked = select_due(watchdog, NOW, limit=10)
        assert [c.request_id for c in picked] == [free]

    def test_inbound_events_are_not_blocked_by_a_sweep(self, postgres_only: Engine) -> None:
        """The sweep's lock on a request still lets the receiver insert rows that refer to it."""
        request_id = new_request(postgres_only)
        sessions = make_sessionmaker(postgres_only)
        with sessions.begin() as session:
            insert_clock(session, clock(request_id), NOW)
        with sessions.begin() as watchdog, sessions.begin() as receiver:
            assert len(select_due(watchdog, NOW, limit=10)) == 1
            receiver.execute(text("SET LOCAL lock_timeout = '2s'"))
            append_audits(receiver, [NewAudit(request_id, "U1", "clicked", "", {})], NOW)


class TestBulkWrites:
    def test_effects_with_known_keys_are_skipped(self, ledger: Engine) -> None:
        """The bulk enqueue is as idempotent as `enqueue_effect`, and counts what went in."""
        request_id = new_request(ledger)
        effects = [
            NewEffect(request_id, "slack_reply", {"text": "a"}, "MODREQ-1:sla:1:0.5:remind"),
            NewEffect(
                request_id, "slack_dm", {"user": "U1", "text": "b"}, "MODREQ-1:sla:1:0.75:dm"
            ),
        ]
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            assert enqueue_effects(session, effects, NOW) == 2
        with sessions.begin() as session:
            assert enqueue_effects(session, effects, NOW + MINUTE) == 0
            assert len(session.scalars(select(OutboxRow)).all()) == 2

    def test_audits_are_appended_in_order(self, ledger: Engine) -> None:
        """One statement, every record, in the order given."""
        request_id = new_request(ledger)
        records = [NewAudit(request_id, "govflow", f"a{n}", "", {"n": n}) for n in range(3)]
        with make_sessionmaker(ledger).begin() as session:
            append_audits(session, records, NOW)
            actions = session.scalars(select(AuditRow.action).order_by(AuditRow.id)).all()
        assert actions == ["a0", "a1", "a2"]
