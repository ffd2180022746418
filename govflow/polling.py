"""Reading tickets from Jira for intake."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.rules import Rules
from domain.ticket import Ticket
from integrations.jira.jql import updated_since_jql
from integrations.jira.mapping import resolve_field_ids, ticket_from_issue
from integrations.jira.port import JiraPort

SYSTEM_FIELDS = ("summary", "status", "priority", "reporter", "updated", "created")


def poll_tickets(
    jira: JiraPort, rules: Rules, projects: Sequence[str], since: datetime | None
) -> list[Ticket]:
    """Every ticket of `projects` updated since `since`, read through all result pages."""
    field_ids = resolve_field_ids(rules.fields, jira.fields())
    wanted = sorted(set(SYSTEM_FIELDS) | set(field_ids.values()))
    jql = updated_since_jql(projects, since, timezone=jira.timezone())
    return [ticket_from_issue(issue, rules, field_ids) for issue in jira.search(jql, wanted)]


def newest_update(tickets: Sequence[Ticket]) -> datetime | None:
    """The latest `updated` among tickets, where the next poll can start."""
    return max((t.updated for t in tickets), default=None)
