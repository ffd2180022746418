"""Publishing to the Prefect UI: what is published after a change, and when.

After a change the board is published, the Prefect events of the changes since the last
publication are sent (`govflow.event_feed`), and the watchdog's next run is brought forward if
a clock now falls due sooner (`govflow.schedules`): `publish_changes_now`. A request's journey
is published as its timeline artifact (`publish_request_timeline`). How each is rendered and
written to Prefect is `integrations.prefect_ui`'s (the board, the journey, the artifacts).

`publish_board` is debounced: the first call publishes at once, calls within
`BOARD_MIN_INTERVAL` of a publication are folded into one publication at the end of the
interval (a timer in this process), so a burst of clicks costs one board, not one per click.
"""

from __future__ import annotations

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

# Publications of the board closer together than this are folded into one.
BOARD_MIN_INTERVAL = 5.0


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
    """Runs `action` at once, then at most once per `interval`, the last call always served."""

    def __init__(self, action: Callable[[Runtime], object], interval: float) -> None:
        self._action = action
        self._interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self._pending: Runtime | None = None

    def __call__(self, runtime: Runtime) -> None:
        """Serve soon on a timer thread: at once if the last run is `interval` old, else then."""
        with self._lock:
            if self._timer is not None:
                self._pending = runtime  # the timer will publish what is there by then
                return
            # Always on the timer's thread, never inline: the caller is an advance run whose
            # click is waiting, and a publication (board, events, watchdog) takes seconds
            # under load (bench field).
            wait = max(0.0, self._last + self._interval - time.monotonic())
            self._pending = runtime
            self._timer = threading.Timer(wait, self._fire)
            self._timer.daemon = True
            self._timer.name = "board-publisher"
            self._timer.start()

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

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            runtime, self._pending = self._pending, None
            self._last = time.monotonic()
        if runtime is not None:
            self._action(runtime)


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
