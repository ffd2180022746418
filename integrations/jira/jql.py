"""Building the JQL of the intake poll."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# JQL compares `updated` to the minute in the API user's time zone, so the poll re-reads the
# last minutes it already saw; the ledger's fingerprints make the overlap harmless.
OVERLAP = timedelta(minutes=2)


def quote(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def updated_since_jql(
    projects: Sequence[str],
    since: datetime | None,
    *,
    timezone: str = "UTC",
    first_lookback_days: int = 30,
) -> str:
    """JQL for issues of `projects` updated since `since` (or recently, on the first poll)."""
    project_clause = f"project in ({', '.join(quote(p) for p in projects)})"
    if since is None:
        window = f"updated >= -{first_lookback_days}d"
    else:
        local = (since - OVERLAP).astimezone(ZoneInfo(timezone))
        window = f"updated >= {quote(local.strftime('%Y/%m/%d %H:%M'))}"
    return f"{project_clause} AND {window} ORDER BY updated ASC, key ASC"
