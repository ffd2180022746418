"""Prefect artifacts: a keyed timeline per request and the open-requests board.

Keyed artifacts are versioned by Prefect and the UI shows the latest per key, so each
publication replaces the previous view. They are created inside flow runs only (creating one
outside a run is deprecated).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from sqlalchemy import select

from govflow.runtime import Runtime, utc_now
from integrations.db.audit import audit_trail
from integrations.db.models import AuditRow, RequestRow, SlaClockRow
from integrations.db.requests import open_requests

BOARD_KEY = "open-requests"
# A board is for people: beyond a few hundred rows it stops being read, and the UI slows down.
BOARD_LIMIT = 500
TIMELINE_LIMIT = 200


def artifact_key(jira_key: str) -> str:
    """The artifact key of a request's timeline (Prefect keys: lowercase, digits, dashes)."""
    return "request-" + re.sub(r"[^a-z0-9-]+", "-", jira_key.lower()).strip("-")


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


def sla_summary(clocks: Sequence[SlaClockRow], now: datetime) -> str:
    """The request's running and paused clocks in a few words, most urgent first."""
    live = [c for c in clocks if c.status != "stopped"]
    live.sort(key=lambda c: c.due_at or datetime.max.replace(tzinfo=UTC))
    parts = []
    for clock in live:
        if clock.status == "paused":
            parts.append(f"{clock.team}: paused")
        elif clock.due_at is None:
            parts.append(f"{clock.team}: running")
        else:
            late = " BREACHED" if clock.due_at <= now else ""
            parts.append(f"{clock.team}: due {clock.due_at:%d %b %H:%M} UTC{late}")
    return "; ".join(parts) or "-"


def board_rows(
    requests: Sequence[RequestRow],
    clocks: Mapping[int, Sequence[SlaClockRow]] | None = None,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """One row per open request for the board table, with its SLA clocks."""
    clocks = clocks or {}
    now = now or datetime.now(UTC)
    return [
        {
            "request": r.jira_key,
            "stage": r.stage,
            "held by": _holder(r),
            "SLA": sla_summary(clocks.get(r.id, ()), now),
            "priority": r.priority,
            "market": r.market or "-",
            "summary": r.summary[:80],
            "updated (UTC)": f"{r.updated_at:%Y-%m-%d %H:%M}",
        }
        for r in list(requests)[:BOARD_LIMIT]
    ]


def _holder(request: RequestRow) -> str:
    if request.stage == "EXPERT_REVIEW":
        return request.assignee or request.expert_team or "-"
    if request.stage == "NEEDS_INFO":
        return "requester"
    if request.stage == "SIGN_OFF" and request.state:
        return ", ".join(str(t.get("team")) for t in request.state.get("signoff", []))
    return request.assignee or "-"


def publish_request_timeline(runtime: Runtime, request_id: int) -> None:
    """Publish (a new version of) the request's timeline artifact."""
    with runtime.sessions.begin() as session:
        request = session.get(RequestRow, request_id)
        if request is None:
            return
        markdown = timeline_markdown(request, audit_trail(session, request_id))
        key = artifact_key(request.jira_key)
    create_markdown_artifact(markdown=markdown, key=key, description="Request timeline")


def publish_board(runtime: Runtime) -> None:
    """Publish (a new version of) the open-requests board."""
    with runtime.sessions.begin() as session:
        requests = open_requests(session, limit=BOARD_LIMIT)
        ids = [r.id for r in requests]
        clocks: dict[int, list[SlaClockRow]] = {}
        query = select(SlaClockRow).where(SlaClockRow.request_id.in_(ids))
        for clock in session.scalars(query):
            clocks.setdefault(clock.request_id, []).append(clock)
        rows = board_rows(requests, clocks, utc_now())
    create_table_artifact(table=rows, key=BOARD_KEY, description="Open requests")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
