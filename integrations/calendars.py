"""The rules' calendars as `BusinessCalendar`s, built once per distinct definition.

Each is stamped with a digest of what its arithmetic rests on (its definition in the rules,
the `holidays` release, the zone's tz data), so a stored schedule worked out on another
basis is known to be stale (`CalendarBook.basis`).
"""

from __future__ import annotations

import hashlib
import zoneinfo
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from domain.calendar import BusinessCalendar
from domain.rules import Rules

# Calendars are rebuilt only when their rules change; each caches holidays and days it has
# looked at, which is most of the cost of its arithmetic. Beside each, its basis (`basis`).
_CALENDAR_CACHE: dict[tuple[str, str], tuple[BusinessCalendar, str]] = {}
_CALENDAR_CACHE_SIZE = 64
_HOLIDAYS_VERSION = version("holidays")


class CalendarBook:
    """The rules' calendars as `BusinessCalendar`s, built once per distinct definition."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._found: dict[str, tuple[BusinessCalendar, str] | None] = {}

    def get(self, key: str) -> BusinessCalendar | None:
        """The calendar named `key`, or None when the rules no longer have it."""
        found = self._lookup(key)
        return found[0] if found is not None else None

    def basis(self, key: str) -> str | None:
        """A digest of all the calendar's arithmetic depends on: rules, holidays, zone data.

        A clock's stored schedule is only as good as the basis it was worked out on.
        """
        found = self._lookup(key)
        return found[1] if found is not None else None

    def _lookup(self, key: str) -> tuple[BusinessCalendar, str] | None:
        if key not in self._found:
            self._found[key] = self._build(key)
        return self._found[key]

    def _build(self, key: str) -> tuple[BusinessCalendar, str] | None:
        rules = self._rules.calendars.get(key)
        if rules is None:
            return None
        definition = rules.model_dump_json()
        cache_key = (key, definition)
        found = _CALENDAR_CACHE.get(cache_key)
        if found is None:
            if len(_CALENDAR_CACHE) >= _CALENDAR_CACHE_SIZE:
                _CALENDAR_CACHE.clear()
            calendar = BusinessCalendar.from_rules(rules, name=key)
            # A new `holidays` release may add or move public holidays, and a tz database
            # update may move a zone's offsets: either changes due times as much as the rules.
            digest = hashlib.sha256(f"{_HOLIDAYS_VERSION}\n{definition}\n".encode())
            digest.update(_zone_data(calendar.zone.key))
            found = _CALENDAR_CACHE[cache_key] = (calendar, digest.hexdigest()[:16])
        return found


def _zone_data(key: str) -> bytes:
    """The tz database file `zoneinfo` reads the zone from (the TZPATH first, then tzdata)."""
    for root in zoneinfo.TZPATH:
        path = Path(root, key)
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return b""
