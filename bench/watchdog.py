"""One SLA watchdog sweep over many open requests: its cost follows the clocks due, not open.

    python -m bench watchdog            # 100,000 and 10,000 open, 1,000 due; PostgreSQL, SQLite
    python -m bench watchdog --quick    # 10,000 and 1,000 open, 100 due

Each case fills a fresh ledger (PostgreSQL: a new schema in GOVFLOW_BENCH_POSTGRES_URL,
default the test database on 127.0.0.1; SQLite: a temporary file) with open requests in
expert review, each with a running clock on the shipped rules, 1% (or the `due` count) of
them past their first warning, scattered through the table. Each clock row is written as
`sync_clocks` writes it, thresholds' schedule included. It then times `fire_due` in one
committed transaction (selection, reading the thresholds due off each clock's schedule, the
bulk writes of effects, audit records and clocks; no delivery) and counts the SQL statements
it sends. `cold` is the first sweep in the process, which builds the calendars and loads their
holidays; `sweep` is the median of the warm repeats (`min`, `max` beside it), the ledger reset
between them. A runner process serves one flow run, so a production sweep pays the cold cost
once per run. `cpu ms` is the median CPU time of the bench process itself over a warm sweep:
on a shared machine it moves much less with other people's load than the wall time does
(the database server's own CPU is not in it). `load` is the machine's one-minute load
average when the warm repeats began (2 CPUs here: above 2, something else is waiting too).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, delete, event, insert, update
from sqlalchemy.engine import make_url

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.lifecycle import begin
from domain.people import Person
from domain.rules import Rules
from domain.sla import start_clock
from domain.stages import Stage
from govflow import clock_schedules, sla_watchdog
from integrations import calendars
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import AuditRow, OutboxRow, RequestRow, SlaClockRow

POSTGRES_URL = os.environ.get(
    "GOVFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROUTE = "review-standard-listing"
# Thursday 3 December 2026, 12:00 in Bangkok: no Thai holiday since Monday.
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
DUE_START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09:00: 30h of 45h counted
OPEN_START = NOW - timedelta(hours=1)  # 1h counted: its first warning is a day away
REPEATS = 7
LIMIT = 1000


def run(*, quick: bool) -> list[dict[str, object]]:
    """Measure every case on both backends; PostgreSQL is skipped if it cannot be reached."""
    cases = [(10_000, 100), (1_000, 100)] if quick else [(100_000, 1_000), (10_000, 1_000)]
    rules = load_rules(DEFAULT_RULES)
    rows: list[dict[str, object]] = []
    for backend in ("postgresql", "sqlite"):
        for open_count, due_count in cases:
            with ledger(backend) as engine:
                if engine is None:
                    rows.append({"case": f"{backend}: unreachable at {POSTGRES_URL}"})
                    continue
                rows.append(measure(engine, rules, open_count, due_count))
    return rows


@contextmanager
def ledger(backend: str) -> Iterator[Engine | None]:
    """A migrated, empty ledger on `backend`, removed afterwards; None if unreachable."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="govflow-bench-") as directory:
            engine = make_engine(f"sqlite:///{Path(directory) / 'ledger.db'}")
            upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError:
        yield None
        return
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def measure(engine: Engine, rules: Rules, open_count: int, due_count: int) -> dict[str, object]:
    """Fill the ledger, then time a cold sweep and the warm repeats."""
    loaded = time.perf_counter()
    originals = load_fixture(engine, rules, open_count, due_count)
    loaded = time.perf_counter() - loaded
    calendars._CALENDAR_CACHE.clear()  # the first sweep of a fresh process
    cold, _, report = sweep(engine, rules)
    assert report.selected == due_count, report
    warm: list[float] = []
    cpu: list[float] = []
    statements = 0
    load = os.getloadavg()[0]
    for _ in range(REPEATS):
        reset(engine, originals)
        started = time.process_time()
        elapsed, statements, report = sweep(engine, rules)
        cpu.append(time.process_time() - started)
        warm.append(elapsed)
    median = statistics.median(warm)
    return {
        "case": engine.dialect.name,
        "open": open_count,
        "due": due_count,
        "load s": loaded,
        "cold ms": cold * 1000,
        "sweep ms": median * 1000,
        "min ms": min(warm) * 1000,
        "max ms": max(warm) * 1000,
        "cpu ms": statistics.median(cpu) * 1000,
        "load": load,
        "statements": statements,
        "effects": report.effects,
        "us/due clock": median / due_count * 1e6,
    }


def sweep(engine: Engine, rules: Rules) -> tuple[float, int, sla_watchdog.WatchdogReport]:
    """One committed `fire_due` at NOW: seconds taken, statements sent, what it did."""
    sessions = make_sessionmaker(engine)
    sent = 0

    def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        with sessions.begin() as session:
            report = sla_watchdog.fire_due(session, rules, NOW, LIMIT)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return elapsed, sent, report


def reset(engine: Engine, originals: Sequence[dict[str, Any]]) -> None:
    """Put the due clocks back as loaded and drop what the sweep wrote."""
    with make_sessionmaker(engine).begin() as session:
        session.execute(delete(OutboxRow))
        session.execute(delete(AuditRow))
        session.execute(update(SlaClockRow), list(originals))  # ORM bulk UPDATE by id


def load_fixture(
    engine: Engine, rules: Rules, open_count: int, due_count: int
) -> list[dict[str, Any]]:
    """Insert the requests and their clocks in bulk; the due clocks' rows as loaded."""
    route = next(r for r in rules.routing if r.name == ROUTE)
    team = rules.teams[route.expert_team]
    book = calendars.CalendarBook(rules)
    policy = rules.sla_policies[route.sla_policy]
    target = policy.targets[Stage.EXPERT_REVIEW]["P3"]

    def clock_values(started: datetime) -> tuple[str, datetime | None, datetime | None, str]:
        """The clock's columns exactly as `sync_clocks` writes them when it starts it."""
        clock = start_clock(
            stage=Stage.EXPERT_REVIEW,
            target=target,
            now=started,
            warn_at=policy.warn_at,
            team=route.expert_team,
        )
        policy_key, team_key = route.sla_policy, route.expert_team
        thresholds = clock_schedules.thresholds_of(rules, policy_key, team_key, clock)
        _, next_due, due, schedule = clock_schedules.derived_columns(
            clock, book, team.calendar, thresholds
        )
        return clock.model_dump_json(), next_due, due, json.dumps(schedule)

    requester = Person(email="chloe.tan@example.com", name="Chloe Tan")
    state = begin("MODREQ-0", requester, route, rules, OPEN_START).model_dump(mode="json")
    due_clock, open_clock = clock_values(DUE_START), clock_values(OPEN_START)
    every = max(1, open_count // due_count)
    due_ids = {n for n in range(1, open_count + 1) if n % every == 0}
    assert len(due_ids) == due_count
    requests: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []
    for n in range(1, open_count + 1):
        key = f"MODREQ-{n}"
        requests.append(
            {
                "id": n,
                "jira_key": key,
                "jira_id": str(n),
                "project": "MODREQ",
                "summary": "",
                "request_type": "review_standard_change",
                "domain": "product_listing",
                "market": "MY",
                "priority": "P3",
                "stage": Stage.EXPERT_REVIEW.value,
                "route_name": ROUTE,
                "expert_team": route.expert_team,
                "facts": "{}",
                "state": json.dumps({**state, "key": key}),
                "fingerprint": "",
                "jira_updated": OPEN_START,
                "created_at": OPEN_START,
                "updated_at": OPEN_START,
            }
        )
        body, next_due, due, schedule = due_clock if n in due_ids else open_clock
        clocks.append(
            {
                "id": n,
                "request_id": n,
                "stage": Stage.EXPERT_REVIEW.value,
                "team": route.expert_team,
                "round": 0,
                "calendar": team.calendar,
                "sla_policy": route.sla_policy,
                "clock": body,
                "status": "running",
                "next_due_at": next_due,
                "due_at": due,
                "schedule": schedule,
                "created_at": OPEN_START,
                "updated_at": OPEN_START,
            }
        )
    if engine.dialect.name == "postgresql":
        _copy(engine, "requests", requests)
        _copy(engine, "sla_clocks", clocks)
    else:
        _insert(engine, RequestRow, requests)
        _insert(engine, SlaClockRow, clocks)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return [
        {
            "id": c["id"],
            "clock": json.loads(c["clock"]),
            "next_due_at": c["next_due_at"],
            "schedule": json.loads(c["schedule"]),
            "updated_at": OPEN_START,
        }
        for c in clocks
        if c["id"] in due_ids
    ]


def _copy(engine: Engine, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL COPY: the fastest way in, by far."""
    columns = list(rows[0])
    raw = engine.raw_connection()
    try:
        driver: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        driver.commit()
    finally:
        raw.close()


def _insert(
    engine: Engine, model: type[RequestRow] | type[SlaClockRow], rows: Sequence[dict[str, Any]]
) -> None:
    """SQLite: executemany in one transaction, JSON columns as objects."""
    json_columns = {"facts", "state", "clock", "schedule"}
    decoded = [{k: json.loads(v) if k in json_columns else v for k, v in r.items()} for r in rows]
    with engine.begin() as conn:
        conn.execute(insert(model), decoded)
