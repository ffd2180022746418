"""Prometheus metrics: the ledger's backlog read at scrape time, and the receiver's ack latency.

The ledger is the truth about pending work, so its figures are not counted in process memory
(where each receiver and runner would see only its own share, and a restart would zero them)
but read from the ledger when Prometheus scrapes: any one process's `/metrics` tells the
whole installation's backlog. The queries read only indexed, small sets (unapplied events,
pending and dead effects, breach records by action).

    govflow_ledger_up                                   1 if the figures below could be read
    govflow_unapplied_events                            events recorded, not yet applied
    govflow_oldest_unapplied_event_age_seconds          how long the oldest one has waited
    govflow_outbox_pending_effects                      Jira/Slack effects not yet delivered
    govflow_outbox_oldest_pending_effect_age_seconds    how long the oldest one has waited
    govflow_outbox_dead_effects                         effects given up on (need a person)
    govflow_sla_breaches_total                          SLA breaches fired, ever
    govflow_receiver_ack_seconds{endpoint}              receiver: request in -> answer out
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integrations.db.models import AuditRow, EventRow, OutboxRow
from integrations.db.outbox import DEAD, PENDING

log = logging.getLogger(__name__)

# Slack wants an answer within 3 s; the buckets are finest where the goal is decided.
ACK_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
BREACH_ACTION = "sla_breach"


@dataclass(frozen=True)
class Backlog:
    """What the ledger holds that is still to be done, at one instant."""

    unapplied_events: int
    oldest_unapplied_event_age: float
    pending_effects: int
    oldest_pending_effect_age: float
    dead_effects: int
    sla_breaches: int


def read_backlog(engine: Engine, now: datetime) -> Backlog:
    """Read the backlog figures from the ledger (ages 0 when nothing waits)."""
    with engine.connect() as conn:
        events, oldest_event = conn.execute(
            select(func.count(), func.min(EventRow.received_at)).where(
                EventRow.processed_at.is_(None)
            )
        ).one()
        effects, oldest_effect = conn.execute(
            select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.status == PENDING)
        ).one()
        dead = conn.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.status == DEAD)
        ).scalar_one()
        breaches = conn.execute(
            select(func.count()).select_from(AuditRow).where(AuditRow.action == BREACH_ACTION)
        ).scalar_one()
    return Backlog(
        unapplied_events=events,
        oldest_unapplied_event_age=_age(oldest_event, now),
        pending_effects=effects,
        oldest_pending_effect_age=_age(oldest_effect, now),
        dead_effects=dead,
        sla_breaches=breaches,
    )


def _age(since: datetime | None, now: datetime) -> float:
    # Aggregates skip the column type on some backends: a naive value here is UTC.
    if since is None:
        return 0.0
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - since).total_seconds())


class LedgerCollector(Collector):
    """Collects the backlog figures from the ledger at each scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        """One query round per scrape; `govflow_ledger_up 0` (and nothing else) if it fails."""
        up = GaugeMetricFamily("govflow_ledger_up", "1 if the ledger answered this scrape")
        try:
            backlog = read_backlog(self.engine, self.clock())
        except SQLAlchemyError as exc:
            # The scrape itself says the ledger is down; the log says why.
            log.warning("metrics: ledger unreadable: %r", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _gauge(
            "unapplied_events", "Events recorded, not yet applied", backlog.unapplied_events
        )
        yield _gauge(
            "oldest_unapplied_event_age_seconds",
            "Age of the oldest event not yet applied (0: none)",
            backlog.oldest_unapplied_event_age,
        )
        yield _gauge(
            "outbox_pending_effects",
            "Jira and Slack effects not yet delivered",
            backlog.pending_effects,
        )
        yield _gauge(
            "outbox_oldest_pending_effect_age_seconds",
            "Age of the oldest effect not yet delivered (0: none)",
            backlog.oldest_pending_effect_age,
        )
        yield _gauge(
            "outbox_dead_effects",
            "Effects given up on after their retries (a person must look)",
            backlog.dead_effects,
        )
        breaches = CounterMetricFamily("govflow_sla_breaches", "SLA breaches fired, ever")
        breaches.add_metric([], backlog.sla_breaches)
        yield breaches


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"govflow_{name}", documentation, value=value)


def ledger_registry(engine: Engine, clock: Callable[[], datetime]) -> CollectorRegistry:
    """A registry with the ledger's figures (one per process; never the global default)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(engine, clock))
    return registry


def ack_histogram(registry: CollectorRegistry) -> Histogram:
    """The receiver's ack latency, by endpoint, registered in `registry`."""
    return Histogram(
        "govflow_receiver_ack_seconds",
        "Time from a request reaching the receiver to its answer starting",
        ["endpoint"],
        buckets=ACK_BUCKETS,
        registry=registry,
    )


class AckTimer:
    """ASGI middleware: observes, per timed path, the time until the answer's first byte."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram, paths: dict[str, str]) -> None:
        self.app = app
        self.histogram = histogram
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the timed paths; pass everything else straight through."""
        endpoint = self.paths.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timed = self.histogram.labels(endpoint=endpoint)

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                timed.observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, send_timed)
