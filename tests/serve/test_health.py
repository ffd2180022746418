"""Health endpoints and metrics over real HTTP, on SQLite and PostgreSQL.

The runner's health server (govflow.health.start_health_server) is started on a free port
against a migrated ledger with known contents; what Prometheus would scrape is parsed with
prometheus_client's own parser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from govflow.health import Check, LedgerCheck, Readiness, prefect_check, start_health_server
from govflow.metrics import ledger_registry
from govflow.prefect_server import free_port
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    """`seconds` before NOW."""
    return NOW - timedelta(seconds=seconds)


def fill(engine: Engine) -> None:
    """Two unapplied events (120 s and 30 s old), one applied; effects: two pending (300 s
    and 10 s old), one dead, one sent; audit: two breaches and a warning."""
    with make_sessionmaker(engine).begin() as session:
        row = RequestRow(
            jira_key="GOV-1",
            jira_id="1",
            project="GOV",
            stage="EXPERT_REVIEW",
            facts={},
            jira_updated=ago(900),
            created_at=ago(900),
            updated_at=ago(900),
        )
        session.add(row)
        session.flush()
        for key, received, processed in (
            ("e1", ago(120), None),
            ("e2", ago(30), None),
            ("e3", ago(600), ago(590)),
        ):
            session.add(
                EventRow(
                    request_id=row.id,
                    kind="click",
                    payload={},
                    dedupe_key=key,
                    received_at=received,
                    processed_at=processed,
                )
            )
        for key, created, status in (
            ("o1", ago(300), "pending"),
            ("o2", ago(10), "pending"),
            ("o3", ago(3600), "dead"),
            ("o4", ago(60), "sent"),
        ):
            session.add(
                OutboxRow(
                    request_id=row.id,
                    kind="slack_reply",
                    payload={},
                    idempotency_key=key,
                    status=status,
                    attempts=0,
                    next_attempt_at=created,
                    created_at=created,
                )
            )
        for action in ("sla_breach", "sla_breach", "sla_warning"):
            session.add(AuditRow(request_id=row.id, at=ago(100), actor="govflow", action=action))


def scrape(url: str) -> dict[str, float]:
    """GET /metrics: every sample by name and labels, e.g. `x{endpoint="jira"}`."""
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def serve(engine: Engine, readiness: Readiness) -> str:
    """The health server on a free port; its base URL once it answers."""
    port = free_port()
    start_health_server("127.0.0.1", port, readiness, ledger_registry(engine, lambda: NOW))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return url
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"no health server at {url}"
            time.sleep(0.05)


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()


class TestMetrics:
    """The backlog figures are the ledger's, read at scrape time."""

    def test_figures_from_the_ledger(self, ledger: Engine) -> None:
        """Counts and ages of unapplied events, pending and dead effects, breaches."""
        fill(ledger)
        url = serve(ledger, Readiness(required={"ledger": LedgerCheck(ledger)}, reported={}))
        samples = scrape(url)
        assert samples["govflow_ledger_up"] == 1
        assert samples["govflow_unapplied_events"] == 2
        assert samples["govflow_oldest_unapplied_event_age_seconds"] == 120
        assert samples["govflow_outbox_pending_effects"] == 2
        assert samples["govflow_outbox_oldest_pending_effect_age_seconds"] == 300
        assert samples["govflow_outbox_dead_effects"] == 1
        assert samples["govflow_sla_breaches_total"] == 2

    def test_an_empty_ledger_has_nothing_waiting(self, ledger: Engine) -> None:
        """No rows: zero counts and zero ages (not missing series)."""
        url = serve(ledger, Readiness(required={}, reported={}))
        samples = scrape(url)
        assert samples["govflow_unapplied_events"] == 0
        assert samples["govflow_oldest_unapplied_event_age_seconds"] == 0
        assert samples["govflow_outbox_oldest_pending_effect_age_seconds"] == 0
        assert samples["govflow_sla_breaches_total"] == 0


class TestReadiness:
    """/readyz names what is not reachable; /healthz answers regardless."""

    def test_ready_when_the_ledger_and_prefect_answer(
        self, ledger: Engine, prefect_api: str
    ) -> None:
        """A runner's checks, both reachable: 200."""
        checks: dict[str, Check] = {
            "ledger": LedgerCheck(ledger),
            "prefect": prefect_check(prefect_api),
        }
        url = serve(ledger, Readiness(required=checks, reported={}))
        answer = httpx.get(f"{url}/readyz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["checks"] == {"ledger": "ok", "prefect": "ok"}

    def test_unready_while_prefect_is_unreachable(self, ledger: Engine, closed_port: int) -> None:
        """A runner without its Prefect API is alive but not ready."""
        prefect = prefect_check(f"http://127.0.0.1:{closed_port}/api", timeout=1)
        url = serve(ledger, Readiness(required={"prefect": prefect}, reported={}))
        answer = httpx.get(f"{url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["checks"]["prefect"] == "ConnectError"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200

    def test_a_reported_check_does_not_decide(self, ledger: Engine, closed_port: int) -> None:
        """A receiver records clicks without Prefect: Prefect down is shown, not unready."""
        prefect = prefect_check(f"http://127.0.0.1:{closed_port}/api", timeout=1)
        readiness = Readiness(required={"ledger": LedgerCheck(ledger)}, reported={"p": prefect})
        answer = httpx.get(f"{serve(ledger, readiness)}/readyz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["checks"] == {"ledger": "ok", "p": "ConnectError"}


@pytest.fixture
def unreachable_ledger(closed_port: int) -> Iterator[Engine]:
    """An engine for a PostgreSQL that is not there."""
    engine = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test?connect_timeout=1"
    )
    yield engine
    engine.dispose()


class TestLedgerDown:
    """A ledger that does not answer: unready, and the scrape says so."""

    def test_unready_and_ledger_up_zero(self, unreachable_ledger: Engine) -> None:
        """/readyz 503 naming the ledger; /metrics still answers, with govflow_ledger_up 0."""
        readiness = Readiness(required={"ledger": LedgerCheck(unreachable_ledger)}, reported={})
        url = serve(unreachable_ledger, readiness)
        answer = httpx.get(f"{url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["checks"]["ledger"] == "OperationalError"
        samples = scrape(url)
        assert samples["govflow_ledger_up"] == 0
        assert "govflow_unapplied_events" not in samples
