"""The runner's dispatcher against the real ledger, on SQLite and PostgreSQL, without Prefect.

`run` here is the `advance` use case itself (`govflow.advance.advance_request` in its own
transaction, as the `apply-events` task runs it), or a recording stand-in where a test needs
to hold a run open; the Prefect flow around it is tested in tests/flows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.lifecycle import Claim
from domain.people import Person
from domain.rules import Rules
from govflow.advance import advance_request
from govflow.dispatch import MAX_BACKOFF, MAX_IDLE_BACKOFF, Dispatcher, backoff_delay
from govflow.effects import EffectContext
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import AuditRow, EventRow, OutboxRow, RequestRow
from integrations.db.pending import has_pending_work, requests_with_pending_work
from tests.govflow.test_advance import ticket
from tests.support.databases import migrated_engine, postgres_schema_url
from tests.support.waiting import eventually

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
EXPERTS = [Person(slack_id="U0EX00003"), Person(slack_id="U0EX00004")]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DEFAULT_RULES)


class Ledger:
    """Requests routed by intake, events recorded as the receiver records them."""

    def __init__(self, engine: Engine, rules: Rules) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self.rules = rules
        self.events = 0

    def route(self, key: str) -> int:
        context = IntakeContext(rules=self.rules, jira_browse_url="https://jira.example")
        filed = ticket().model_copy(update={"key": key, "id": key.rsplit("-", 1)[1]})
        with self.sessions.begin() as session:
            assert record_ticket(session, filed, context, NOW) is IntakeOutcome.ROUTED
            request_id = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == key))
            assert request_id is not None
            # Intake's own effects (thread root, Jira comment) are not what these tests watch.
            session.execute(
                update(OutboxRow).where(OutboxRow.request_id == request_id).values(status="sent")
            )
            return request_id

    def claim(self, request_id: int, who: Person) -> None:
        self.events += 1
        event = Claim(event_id=f"evt-{self.events}", actor=who, at=NOW)
        with self.sessions.begin() as session:
            record_event(
                session,
                request_id=request_id,
                kind=event.kind,
                actor=who.slack_id,
                payload=event.model_dump(mode="json"),
                dedupe_key=event.event_id,
                now=NOW,
            )

    def advance(self, request_id: int) -> bool:
        """The `advance` flow's steps: apply the events, then "deliver" (mark sent) the effects."""
        context = EffectContext(rules=self.rules, jira_browse_url="https://jira.example")
        with self.sessions.begin() as session:
            summary = advance_request(session, request_id, context, NOW + timedelta(minutes=1))
            session.execute(
                update(OutboxRow).where(OutboxRow.request_id == request_id).values(status="sent")
            )
            return bool(summary.applied or summary.refused)

    def unapplied(self) -> int:
        with self.sessions.begin() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(EventRow)
                    .where(EventRow.processed_at.is_(None))
                )
                or 0
            )

    def audit_count(self, action: str) -> int:
        with self.sessions.begin() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(AuditRow).where(AuditRow.action == action)
                )
                or 0
            )


@pytest.fixture
def book(ledger: Engine, rules: Rules) -> Ledger:
    return Ledger(ledger, rules)


@pytest.fixture
def serving() -> Iterator[Callable[[Dispatcher], Dispatcher]]:
    """Serve dispatchers in threads for the test; stop them all afterwards."""
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(dispatcher: Dispatcher) -> Dispatcher:
        stop = threading.Event()
        thread = threading.Thread(target=dispatcher.serve, args=(stop,), daemon=True)
        thread.start()
        stops.append((stop, thread))
        return dispatcher

    yield start
    for stop, _ in stops:
        stop.set()
    for _, thread in stops:
        thread.join(timeout=30)


def clock() -> datetime:
    return NOW + timedelta(minutes=1)


class TestPendingWork:
    """The ledger's queue query."""

    def test_lists_requests_with_unapplied_events_or_due_effects(self, book: Ledger) -> None:
        """Applied events, sent effects and effects not yet due are not work."""
        idle, clicked, owed = (book.route(f"MODREQ-{n}") for n in (1, 2, 3))
        book.claim(clicked, EXPERTS[0])
        with book.sessions.begin() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.request_id == owed)
                .values(status="pending", next_attempt_at=NOW)
            )
            assert requests_with_pending_work(session, clock()) == [clicked, owed]
            assert not has_pending_work(session, idle, clock())
            # An effect waiting for its retry is not due yet.
            assert requests_with_pending_work(session, NOW - timedelta(seconds=1)) == [clicked]


class TestDispatcher:
    """Dispatching `advance` straight from the ledger."""

    def test_applies_recorded_events_with_no_trigger_at_all(
        self, book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """An event recorded in the ledger is applied; nothing else told the dispatcher."""
        ids = [book.route(f"MODREQ-{n}") for n in range(1, 6)]
        dispatcher = serving(Dispatcher(engine=book.engine, run=book.advance, clock=clock))
        for request_id in ids:
            book.claim(request_id, EXPERTS[0])
        eventually(lambda: book.unapplied() == 0, timeout=30, interval=0.02)
        with book.sessions.begin() as session:
            assignees = session.scalars(select(RequestRow.assignee).where(RequestRow.id.in_(ids)))
            assert set(assignees) == {"U0EX00003"}
        eventually(dispatcher.idle, timeout=30, interval=0.02)

    def test_never_runs_one_request_twice_at_once(
        self, book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """Events recorded while a run is in flight wait for it, then get their own run."""
        request_id = book.route("MODREQ-7")
        release = threading.Event()
        concurrent = Counter[int]()
        most = Counter[int]()
        lock = threading.Lock()

        def held_run(rid: int) -> bool:
            with lock:
                concurrent[rid] += 1
                most[rid] = max(most[rid], concurrent[rid])
            release.wait(10)
            try:
                return book.advance(rid)
            finally:
                with lock:
                    concurrent[rid] -= 1

        dispatcher = serving(
            Dispatcher(engine=book.engine, run=held_run, clock=clock, poll_seconds=0.01)
        )
        book.claim(request_id, EXPERTS[0])
        eventually(lambda: concurrent[request_id] == 1, timeout=30, interval=0.02)
        book.claim(request_id, EXPERTS[1])
        time.sleep(0.3)  # thirty polls with the request's work pending and its run held
        release.set()
        eventually(lambda: book.unapplied() == 0, timeout=30, interval=0.02)
        eventually(dispatcher.idle, timeout=30, interval=0.02)
        assert most[request_id] == 1
        # The first claim won; the second was applied too (refused: already claimed).
        assert book.audit_count("event_refused") == 1

    def test_two_dispatchers_apply_each_event_exactly_once(
        self, book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """Two runners on one ledger share the work; no event is applied twice."""
        ids = [book.route(f"MODREQ-{n}") for n in range(10, 30)]
        ran: dict[str, list[int]] = {"a": [], "b": []}

        def run_as(name: str) -> Callable[[int], bool]:
            def run(request_id: int) -> bool:
                ran[name].append(request_id)
                return book.advance(request_id)

            return run

        first = serving(Dispatcher(engine=book.engine, run=run_as("a"), clock=clock, workers=3))
        second = serving(Dispatcher(engine=book.engine, run=run_as("b"), clock=clock, workers=3))
        for request_id in ids:
            book.claim(request_id, EXPERTS[0])
            book.claim(request_id, EXPERTS[1])
        eventually(lambda: book.unapplied() == 0, timeout=30, interval=0.02)
        eventually(lambda: first.idle() and second.idle(), timeout=30, interval=0.02)
        # Each request claimed once, its second claim refused once: nothing applied twice.
        assert book.audit_count("claimed") == len(ids)
        assert book.audit_count("event_refused") == len(ids)
        assert set(ran["a"]) | set(ran["b"]) == set(ids)

    def test_a_failing_run_backs_off_and_is_retried(
        self, book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """A run that raises is retried later, with growing pauses, not in a hot loop."""
        request_id = book.route("MODREQ-8")
        attempts: list[float] = []

        def flaky(rid: int) -> bool:
            attempts.append(time.monotonic())
            if len(attempts) < 3:
                raise RuntimeError("Slack is down")
            return book.advance(rid)

        dispatcher = serving(
            Dispatcher(engine=book.engine, run=flaky, clock=clock, poll_seconds=0.01)
        )
        book.claim(request_id, EXPERTS[0])
        eventually(lambda: book.unapplied() == 0, timeout=30, interval=0.02)
        eventually(dispatcher.idle, timeout=30, interval=0.02)
        assert dispatcher.stats.failed == 2
        # With a 10 ms poll and no backoff there would have been dozens of attempts in the
        # 0.75 s the two backoffs take; a run after the success is harmless (nothing to do).
        assert 3 <= len(attempts) <= 5

    def test_a_failing_thread_setup_is_a_failed_run_not_a_dead_dispatcher(
        self, book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """Prefect down when a worker thread starts: retried; the dispatcher lives on.

        As the pool's initializer, the failure broke the pool and ended the dispatcher's
        thread without a word (the runner of test_lost_triggers then applied nothing).
        """
        request_id = book.route("MODREQ-8")
        setups: list[str] = []

        def setup() -> None:
            setups.append(threading.current_thread().name)
            if len(setups) == 1:
                raise ConnectionError("Prefect is not answering")

        dispatcher = serving(
            Dispatcher(
                engine=book.engine,
                run=book.advance,
                clock=clock,
                poll_seconds=0.01,
                thread_setup=setup,
            )
        )
        book.claim(request_id, EXPERTS[0])
        eventually(lambda: book.unapplied() == 0, timeout=30, interval=0.02)
        assert dispatcher.stats.failed == 1
        assert len(setups) >= 2


class TestBackoffDelay:
    """How long a request waits after runs that left its work behind."""

    def test_failures_double_up_to_half_a_minute(self) -> None:
        """A failing Slack or a bug: 0.25 s, 0.5 s, 1 s ... never more than 30 s."""
        delays = [backoff_delay(n, failed=True) for n in range(10)]
        assert delays[:4] == [0.25, 0.5, 1.0, 2.0]
        assert delays[-1] == MAX_BACKOFF == 30.0

    def test_runs_that_moved_nothing_wait_two_seconds_at_most(self) -> None:
        """A delivery lease held by intake is let go within a moment; a click is waiting."""
        delays = [backoff_delay(n, failed=False) for n in range(10)]
        assert delays[:3] == [0.25, 0.5, 1.0]
        assert max(delays) == MAX_IDLE_BACKOFF == 2.0


@pytest.mark.postgres
class TestPostgresClaims:
    """Advisory-lock claims and NOTIFY wake-ups (PostgreSQL only)."""

    @pytest.fixture
    def pg_book(self, rules: Rules) -> Iterator[Ledger]:
        with postgres_schema_url() as url, migrated_engine(url) as engine:
            yield Ledger(engine, rules)

    def test_a_request_claimed_by_another_runner_is_skipped(
        self, pg_book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """While one runner's claim is held, the other starts no run for that request."""
        request_id = pg_book.route("MODREQ-9")
        release = threading.Event()
        ran: list[str] = []

        def slow(rid: int) -> bool:
            ran.append("slow")
            release.wait(10)
            return pg_book.advance(rid)

        def fast(rid: int) -> bool:
            ran.append("fast")
            return pg_book.advance(rid)

        first = serving(Dispatcher(engine=pg_book.engine, run=slow, clock=clock))
        pg_book.claim(request_id, EXPERTS[0])
        eventually(lambda: ran == ["slow"], timeout=30, interval=0.02)
        second = serving(
            Dispatcher(engine=pg_book.engine, run=fast, clock=clock, poll_seconds=0.01)
        )
        eventually(lambda: second.stats.skipped_claimed >= 3, timeout=30, interval=0.02)
        release.set()
        eventually(lambda: pg_book.unapplied() == 0, timeout=30, interval=0.02)
        eventually(lambda: first.idle() and second.idle(), timeout=30, interval=0.02)
        assert ran == ["slow"]

    def test_notify_wakes_the_dispatcher_long_before_its_poll(
        self, pg_book: Ledger, serving: Callable[[Dispatcher], Dispatcher]
    ) -> None:
        """With a 60 s poll, the event's commit alone brings its run."""
        request_id = pg_book.route("MODREQ-11")
        dispatcher = serving(
            Dispatcher(engine=pg_book.engine, run=pg_book.advance, clock=clock, poll_seconds=60)
        )
        time.sleep(0.5)  # the listener is up, and the first pass found nothing
        pg_book.claim(request_id, EXPERTS[0])
        eventually(lambda: pg_book.unapplied() == 0, timeout=10, interval=0.02)
        assert dispatcher.stats.woken >= 1
