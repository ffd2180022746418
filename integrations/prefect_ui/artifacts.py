"""Prefect artifacts: the open-requests board and a timeline per request, each under one key.

Each key holds one artifact that is updated in place (`PATCH /artifacts/{id}`, which Prefect
also applies to the key's collection), rather than a new version per publication: the board
is republished after every change, and a version each time grew Prefect's database with
every click (26 versions in 10 minutes at rest) and buried the board behind a version list.
So `<UI>/artifacts/key/open-requests` always shows the board as last published (`board_url`).

Artifacts are written with the client, not `create_markdown_artifact`: the board is
published from wherever a change happens, inside a flow run or not, and Prefect deprecates
the helper outside runs. An artifact first created inside a run stays linked to that run.

`publish_board` also sends the Prefect events of the changes since its last run
(`integrations.prefect_ui.events`). It is debounced: the first call publishes at once, calls within
`BOARD_MIN_INTERVAL` of a publication are folded into one publication at the end of the
interval (a timer in this process), so a burst of clicks costs one board, not one per click.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.runtime import flow_run

from config.rules import Rules
from govflow.clocks import CalendarBook
from govflow.runtime import Runtime, utc_now
from integrations.db.audit import audit_trail
from integrations.db.models import AuditRow, RequestRow, SlaClockRow
from integrations.prefect_ui.board import (
    BOARD_ROWS,
    COLUMNS,
    BoardRow,
    OpenRequest,
    board_markdown,
    board_row,
    read_board,
    state_of,
)
from integrations.prefect_ui.events import emit_new_events
from integrations.prefect_ui.urls import BOARD_KEY, board_url

# Publications of the board closer together than this are folded into one.
BOARD_MIN_INTERVAL = 5.0
TIMELINE_LIMIT = 200

__all__ = ["BOARD_KEY", "board_url", "publish_board", "publish_request_timeline"]


def artifact_key(jira_key: str) -> str:
    """The artifact key of a request's timeline (Prefect keys: lowercase, digits, dashes)."""
    return "request-" + re.sub(r"[^a-z0-9-]+", "-", jira_key.lower()).strip("-")


# ---- keeping one artifact per key --------------------------------------------------------

# The artifact id behind each key this process has published, so a publication is one PATCH.
_ids: dict[tuple[str, str], UUID] = {}
_ids_lock = threading.Lock()


def put_markdown(key: str, markdown: str, description: str) -> UUID:
    """Make the artifact under `key` show `markdown`: update it in place, or create it."""
    with get_client(sync_client=True) as client:
        where = (str(client.api_url), key)
        with _ids_lock:
            known = _ids.get(where)
        if known is None:
            found = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=[key])
                ),
                limit=1,
            )
            known = found[0].latest_id if found else None
        if known is not None:
            try:
                # The PATCH itself, not `client.update_artifact`: that also emits a
                # `prefect.artifact.updated` event carrying the whole text, which would grow
                # Prefect's event table by a board per publication (and a 10,000-row board
                # is over the 1.5 MB event limit).
                change = ArtifactUpdate(data=markdown, description=description)
                client.request(
                    "PATCH",
                    "/artifacts/{id}",
                    json=change.model_dump(mode="json", exclude_unset=True),
                    path_params={"id": known},
                )
            except (ObjectNotFound, PrefectHTTPStatusError) as error:
                if not _not_found(error):
                    raise
                known = None  # deleted in the UI since: create it again
        if known is None:
            run_id = flow_run.get_id()
            created = client.create_artifact(
                ArtifactCreate(
                    key=key,
                    type="markdown",
                    data=markdown,
                    description=description,
                    flow_run_id=UUID(run_id) if run_id else None,
                )
            )
            known = created.id
        with _ids_lock:
            _ids[where] = known
        return known


def _not_found(error: Exception) -> bool:
    # The sync client raises ObjectNotFound for some calls and a plain 404 for this one.
    if isinstance(error, PrefectHTTPStatusError):
        return error.response.status_code == 404
    return True


# ---- the board ---------------------------------------------------------------------------


def publish_board_now(runtime: Runtime, *, limit: int | None = BOARD_ROWS) -> UUID:
    """Publish the board at once; returns the artifact's id."""
    with runtime.sessions.begin() as session:
        board = read_board(
            session,
            runtime.rules,
            utc_now(),
            jira_browse_url=runtime.jira.browse_url,
            limit=limit,
        )
    return put_markdown(BOARD_KEY, board_markdown(board), "Open requests, most urgent first")


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
        """Serve now if the last run is `interval` old, else once the interval is over."""
        with self._lock:
            if self._timer is not None:
                self._pending = runtime  # the timer will publish what is there by then
                return
            wait = self._last + self._interval - time.monotonic()
            if wait > 0:
                self._pending = runtime
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.name = "board-publisher"
                self._timer.start()
                return
            self._last = time.monotonic()
        self._action(runtime)

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
    """Publish the board and send the Prefect events of every change since the last time."""
    publish_board_now(runtime)
    emit_new_events(runtime)


_board = Debounced(publish_changes_now, BOARD_MIN_INTERVAL)


def publish_board(runtime: Runtime) -> None:
    """Publish the board and the new events soon: now, or folded with others within seconds."""
    _board(runtime)


def flush_board() -> None:
    """Publish a board still waiting on the debounce now."""
    _board.flush()


def board_rows(
    requests: Sequence[RequestRow],
    clocks: Mapping[int, Sequence[SlaClockRow]] | None = None,
    now: datetime | None = None,
    rules: Rules | None = None,
    jira_browse_url: str = "",
) -> list[dict[str, str]]:
    """The board's rows for these requests as dicts keyed by column (tests, other surfaces)."""
    if rules is None:
        raise ValueError("board_rows needs the rules to name teams")
    when = now or datetime.now(UTC)
    book = CalendarBook(rules)
    found = clocks or {}
    rows = [
        board_row(
            OpenRequest.of(r),
            state_of(r.state),
            found.get(r.id, ()),
            rules=rules,
            book=book,
            now=when,
            jira_browse_url=jira_browse_url,
        )
        for r in requests
    ]
    return [dict(zip(COLUMNS, _row_values(row), strict=True)) for row in rows]


def _row_values(row: BoardRow) -> tuple[str, ...]:
    return (
        row.key,
        row.summary,
        row.stage,
        row.waiting_on,
        row.signoff,
        row.sla,
        row.thread_url,
        row.age,
    )


# ---- request timelines -------------------------------------------------------------------


def timeline_markdown(request: RequestRow, trail: Sequence[AuditRow]) -> str:
    """A request's audit trail as a markdown table, newest last."""
    lines = [
        f"# {request.jira_key} · {request.stage}",
        "",
        f"{_cell(request.summary)}",
        "",
        "| when (UTC) | who | what | why |",
        "|---|---|---|---|",
    ]
    shown = list(trail)[-TIMELINE_LIMIT:]
    if len(trail) > len(shown):
        lines.append(f"| | | ({len(trail) - len(shown)} earlier entries) | |")
    lines += [
        f"| {row.at:%Y-%m-%d %H:%M:%S} | {_cell(row.actor)} | {_cell(row.action)} | "
        f"{_cell(row.reason)} |"
        for row in shown
    ]
    return "\n".join(lines)


def publish_request_timeline(runtime: Runtime, request_id: int) -> None:
    """Publish the request's timeline artifact as the ledger has it now."""
    with runtime.sessions.begin() as session:
        request = session.get(RequestRow, request_id)
        if request is None:
            return
        markdown = timeline_markdown(request, audit_trail(session, request_id))
        key = artifact_key(request.jira_key)
    put_markdown(key, markdown, "Request timeline")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
