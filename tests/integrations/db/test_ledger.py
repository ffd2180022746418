"""The ledger's repository functions on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, inspect, select

from domain.stages import Stage
from integrations.db.audit import audit_trail, record_audit
from integrations.db.cursors import advance_cursor, ledger_born, read_cursor
from integrations.db.engine import make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import CursorRow, OutboxRow, RequestRow
from integrations.db.outbox import (
    claim_request_effects,
    enqueue_effect,
    pending_effects,
    release_request_effects,
    requests_with_due_effects,
)
from integrations.db.requests import ensure_request, lock_request
from integrations.prefect_ui.events import ledger_tag
from tests.support.databases import migrated_engine

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _new_request(engine: Engine, key: str = "MODREQ-1") -> int:
    with make_sessionmaker(engine).begin() as session:
        ensure_request(
            session,
            jira_key=key,
            jira_id="10001",
            project="MODREQ",
            jira_updated=NOW,
            stage=Stage.RECEIVED,
            now=NOW,
        )
        return lock_request(session, key).id


class TestMigrations:
    def test_upgrade_creates_every_table_and_is_repeatable(self, ledger: Engine) -> None:
        """Running migrations on an up-to-date ledger changes nothing and does not fail."""
        upgrade(ledger)
        tables = set(inspect(ledger).get_table_names())
        assert {"requests", "events", "audit_events", "outbox", "cursors", "identities"} <= tables


class TestRequests:
    def test_ensure_request_creates_once(self, ledger: Engine) -> None:
        """A second ensure for the same Jira key reports False and adds no row."""
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            first = ensure_request(
                session,
                jira_key="MODREQ-7",
                jira_id="1",
                project="MODREQ",
                jira_updated=NOW,
                stage=Stage.RECEIVED,
                now=NOW,
            )
            second = ensure_request(
                session,
                jira_key="MODREQ-7",
                jira_id="1",
                project="MODREQ",
                jira_updated=NOW,
                stage=Stage.RECEIVED,
                now=NOW,
            )
        with sessions.begin() as session:
            count = session.scalar(select(func.count()).select_from(RequestRow))
        assert (first, second, count) == (True, False, 1)

    def test_datetimes_come_back_aware_utc(self, ledger: Engine) -> None:
        """The ledger never hands back naive datetimes, whatever the backend."""
        _new_request(ledger)
        with make_sessionmaker(ledger).begin() as session:
            row = lock_request(session, "MODREQ-1")
        assert row.created_at == NOW
        assert row.created_at.tzinfo is not None

    def test_naive_datetime_is_refused(self, ledger: Engine) -> None:
        """Writing a naive datetime is a programming error, caught before it reaches SQL."""
        with (
            pytest.raises(Exception, match="naive datetime"),
            make_sessionmaker(ledger).begin() as s,
        ):
            ensure_request(
                s,
                jira_key="X-1",
                jira_id="1",
                project="X",
                jira_updated=datetime(2026, 1, 1),
                stage=Stage.RECEIVED,
                now=NOW,
            )


class TestAudit:
    def test_trail_is_in_order(self, ledger: Engine) -> None:
        """Audit records come back in the order they were written."""
        request_id = _new_request(ledger)
        with make_sessionmaker(ledger).begin() as session:
            for action in ("a", "b", "c"):
                record_audit(session, at=NOW, actor="me", action=action, request_id=request_id)
        with make_sessionmaker(ledger).begin() as session:
            assert [r.action for r in audit_trail(session, request_id)] == ["a", "b", "c"]


class TestCursor:
    def test_cursor_only_moves_forward(self, ledger: Engine) -> None:
        """An older position never moves the cursor back."""
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            assert read_cursor(session, "intake") is None
            advance_cursor(session, "intake", NOW, NOW)
            advance_cursor(session, "intake", NOW - timedelta(hours=1), NOW)
        with sessions.begin() as session:
            assert read_cursor(session, "intake") == NOW


class TestLedgerBorn:
    def test_a_ledger_keeps_its_birth_and_a_new_one_at_the_same_url_has_another(
        self, database_url: str
    ) -> None:
        """A sandbox restart recreates the ledger at the same URL: it must not pass for the old."""
        with migrated_engine(database_url) as engine:
            sessions = make_sessionmaker(engine)
            with sessions.begin() as session:
                born = ledger_born(session, NOW)
            with sessions.begin() as session:
                assert ledger_born(session, NOW + timedelta(days=3)) == born
        with migrated_engine(database_url) as engine:
            # Same URL, a new ledger (a sandbox restart deletes the file): it has no birth yet.
            with engine.begin() as connection:
                connection.execute(delete(CursorRow))
            with make_sessionmaker(engine).begin() as session:
                reborn = ledger_born(session, NOW + timedelta(days=1))
        assert reborn != born
        assert ledger_tag(database_url, reborn) != ledger_tag(database_url, born)


class TestOutbox:
    def test_same_idempotency_key_is_queued_once(self, ledger: Engine) -> None:
        """Enqueueing an effect twice leaves one row."""
        request_id = _new_request(ledger)
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            results = [
                enqueue_effect(
                    session,
                    request_id=request_id,
                    kind="jira_comment",
                    payload={"body": "x"},
                    idempotency_key="MODREQ-1:ack",
                    now=NOW,
                )
                for _ in range(2)
            ]
        with sessions.begin() as session:
            assert results == [True, False]
            assert len(pending_effects(session, request_id)) == 1

    def test_due_effects_respect_next_attempt(self, ledger: Engine) -> None:
        """A deferred effect is not due before its next attempt time."""
        request_id = _new_request(ledger)
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            enqueue_effect(
                session,
                request_id=request_id,
                kind="jira_comment",
                payload={},
                idempotency_key="k",
                now=NOW,
            )
            session.execute(
                OutboxRow.__table__.update().values(next_attempt_at=NOW + timedelta(minutes=5))
            )
        with sessions.begin() as session:
            assert requests_with_due_effects(session, NOW) == []
            assert requests_with_due_effects(session, NOW + timedelta(minutes=5)) == [request_id]

    def test_lease_admits_one_owner_until_it_expires(self, ledger: Engine) -> None:
        """A second deliverer cannot claim a request while the first holds an unexpired lease."""
        request_id = _new_request(ledger)
        sessions = make_sessionmaker(ledger)
        lease = timedelta(minutes=2)
        with sessions.begin() as session:
            assert claim_request_effects(session, request_id, owner="a", now=NOW, lease=lease)
            assert not claim_request_effects(session, request_id, owner="b", now=NOW, lease=lease)
            later = NOW + lease + timedelta(seconds=1)
            assert claim_request_effects(session, request_id, owner="b", now=later, lease=lease)
            release_request_effects(session, request_id, owner="a")
            assert not claim_request_effects(session, request_id, owner="c", now=later, lease=lease)
            release_request_effects(session, request_id, owner="b")
            assert claim_request_effects(session, request_id, owner="c", now=later, lease=lease)
