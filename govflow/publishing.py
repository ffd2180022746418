"""Publishing to the Prefect UI: what is published after a change, and when.

After a change the board is published, the Prefect events of the changes since the last
publication are sent (`govflow.event_feed`), and the watchdog's next run is brought forward if
a clock now falls due sooner (`govflow.schedules`): `publish_changes_now`. A request's journey
is published as its timeline artifact (`publish_request_timeline`). How each is rendered and
written to Prefect is `integrations.prefect_ui`'s (the board, the journey, the artifacts).

`publish_board` is debounced: the first call publishes at once, calls within
`BOARD_MIN_INTERVAL` of a publication are folded into one publication at the end of the
interval (a timer in this process), so a burst of clicks costs one board, not one per click.
A publication that fails (the Prefect server restarting) is tried again, waiting longer each
time, for a few minutes; the board then waits for the next change. The ledger stays the truth
either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from uuid import UUID

from sqlalchemy import select

from govflow.event_feed import emit_new_events
from govflow.runtime import Runtime, utc_now
from govflow.schedules import keep_watchdog_scheduled
from integrations.db.models import RequestRow
from integrations.prefect_ui.artifacts import artifact_key, journey_of, put_markdown, run_links
from integrations.prefect_ui.board import BOARD_ROWS, board_markdown, read_board
from integrations.prefect_ui.urls import board_key

log = logging.getLogger(__name__)

# Publications of the board closer together than this are folded into one.
BOARD_MIN_INTERVAL = 5.0
# A failed publication is tried again after 2, 4, 8... times the interval, at most this long
# apart, this many times (10 s to 60 s apart, about 4 minutes in all for the board).
MAX_RETRY_SECONDS = 60.0
MAX_RETRIES = 6


def publish_board_now(runtime: Runtime, *, limit: int | None = BOARD_ROWS) -> UUID:
    """Publish the board at once; returns the artifact's id."""
    with runtime.reads() as session:
        board = read_board(
            session,
            runtime.rules,
            utc_now(),
            jira_browse_url=runtime.jira.browse_url,
            limit=limit,
        )
    key = board_key(runtime.settings.installation)
    return put_markdown(key, board_markdown(board), "Open requests, most urgent first")


class Debounced:
    """Runs `action` at once, then at most once per `interval`, the last call always served.

    A failed run is tried again with backoff (`MAX_RETRIES` times), unless a newer call
    arrived meanwhile, which is served instead; either way the timer thread lives on.
    """

    def __init__(self, action: Callable[[Runtime], object], interval: float) -> None:
        self._action = action
        self._interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self._pending: Runtime | None = None
        self._failures = 0

    def __call__(self, runtime: Runtime) -> None:
        """Serve soon on a timer thread: at once if the last run is `interval` old, else then."""
        with self._lock:
            self._pending = runtime  # a timer already set publishes what is there by then
            if self._timer is None:
                # Always on the timer's thread, never inline: the caller is an advance run
                # whose click is waiting, and a publication (board, events, watchdog) takes
                # seconds under load (bench field).
                self._start_timer(max(0.0, self._last + self._interval - time.monotonic()))

    def flush(self) -> None:
        """Serve a waiting call now (before the process exits)."""
        with self._lock:
            timer, self._timer = self._timer, None
            runtime, self._pending = self._pending, None
            if timer is not None:
                timer.cancel()
            self._last = time.monotonic()
        if runtime is not None:
            self._action(runtime)

    def _start_timer(self, wait: float) -> None:
        # Called with the lock held.
        self._timer = threading.Timer(wait, self._fire)
        self._timer.daemon = True
        self._timer.name = "board-publisher"
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            runtime, self._pending = self._pending, None
            self._last = time.monotonic()
        if runtime is None:
            return
        try:
            self._action(runtime)
        except Exception:  # tried again with backoff: a timer thread must not die of it
            log.warning("publishing the board failed", exc_info=True)
            self._retry(runtime)
        else:
            with self._lock:
                self._failures = 0

    def _retry(self, runtime: Runtime) -> None:
        with self._lock:
            self._failures += 1
            if self._failures > MAX_RETRIES:
                log.error("the board failed %d times; the next change publishes it", MAX_RETRIES)
                self._failures = 0
                return
            if self._pending is None:
                self._pending = runtime  # a newer call, if any, is what gets published
            if self._timer is None:
                wait = min(MAX_RETRY_SECONDS, self._interval * 2.0**self._failures)
                log.info("trying the board again in %.0f s", wait)
                self._start_timer(wait)


def publish_changes_now(runtime: Runtime) -> None:
    """Publish the board, send the Prefect events of the changes since the last time, and
    bring the watchdog's next run forward if a clock now falls due sooner."""
    publish_board_now(runtime)
    emit_new_events(runtime)
    keep_watchdog_scheduled(runtime.sessions, runtime.settings, utc_now(), ran_at=None)


_board = Debounced(publish_changes_now, BOARD_MIN_INTERVAL)


def publish_board(runtime: Runtime) -> None:
    """Publish the board and the new events soon: now, or folded with others within seconds."""
    _board(runtime)


def flush_board() -> None:
    """Publish a board still waiting on the debounce now."""
    _board.flush()


def publish_request_timeline(runtime: Runtime, request_id: int) -> None:
    """Publish the request's journey (its timeline artifact) as the ledger has it now."""
    with runtime.reads() as session:
        request = session.get(RequestRow, request_id)
        if request is None:
            return
        key = request.jira_key
    installation = runtime.settings.installation
    runs = run_links(key, installation)  # outside the transaction: a Prefect round trip
    with runtime.reads() as session:
        request = session.get(RequestRow, request_id)
        assert request is not None  # requests are never deleted
        markdown = journey_of(
            session, request, runtime.rules, runtime.jira.browse_url, runs, now=utc_now()
        )
    put_markdown(artifact_key(key, installation), markdown, f"{key}: the request's journey")


def publish_timelines(runtime: Runtime, jira_keys: Sequence[str]) -> int:
    """Publish the journeys of these requests (intake's new and changed ones); how many."""
    if not jira_keys:
        return 0
    with runtime.sessions.begin() as session:
        ids = list(
            session.scalars(select(RequestRow.id).where(RequestRow.jira_key.in_(list(jira_keys))))
        )
    for request_id in ids:
        publish_request_timeline(runtime, request_id)
    return len(ids)
