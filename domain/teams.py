"""Team facts read from the rules: a team's name, who may decide, and its local date.

Entitlement, quorum and the request's holder all ask these; they live apart so that the
request state can answer "who holds it" without importing entitlement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from domain.people import Person, matches_entry
from domain.rules import Rules


def team_label(rules: Rules, team: str) -> str:
    """A team's display name from the rules, else its key."""
    found = rules.teams.get(team)
    return found.name if found is not None else team


def eligible_roster(rules: Rules, team: str, requester: Person) -> list[str]:
    """`team`'s roster without the requester, who never decides on their own request."""
    found = rules.teams.get(team)
    roster = found.roster if found is not None else []
    return [entry for entry in roster if not matches_entry(requester, entry)]


def local_date(rules: Rules, team: str, at: datetime) -> date:
    """The date `at` falls on in `team`'s calendar time zone (UTC if it has none)."""
    found = rules.teams.get(team)
    calendar = rules.calendars.get(found.calendar) if found is not None else None
    zone = ZoneInfo(calendar.timezone) if calendar is not None else UTC
    return at.astimezone(zone).date()
