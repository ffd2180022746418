"""Pure mapping from a Jira issue's JSON to a govflow Ticket; never raises on odd values.

A value govflow cannot read (wrong shape, unparseable date) is recorded in
`Ticket.malformed` with what was wrong, so triage can tell the requester precisely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from domain.errors import ConfigError, ConfigProblem
from domain.rules import FieldKind, Rules, TicketField
from domain.ticket import FieldValue, Ticket
from integrations.text import clean_text

JIRA_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:?\d{2}|Z)?$")
# What Jira's account ids and email addresses look like; anything else is not kept, so an id
# can neither overflow the ledger's columns nor smuggle wiki markup into a mention.
ACCOUNT_ID = re.compile(r"[A-Za-z0-9:_-]{1,128}")
EMAIL = re.compile(r"[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,189}\.[^@\s\x00-\x1f]{1,63}")
# ADF leaf nodes whose text lives in `attrs.text` (a mention shows "@Name", an emoji itself).
_ATTR_TEXT_NODES = frozenset({"mention", "emoji", "status", "date"})


def resolve_field_ids(
    fields: Mapping[str, TicketField], jira_fields: list[dict[str, Any]]
) -> dict[str, str]:
    """Map each logical field to its Jira field id, accepting ids or display names in rules."""
    by_id = {str(f.get("id")): str(f.get("id")) for f in jira_fields}
    by_name: dict[str, str] = {}
    for f in jira_fields:
        by_name.setdefault(str(f.get("name", "")).casefold(), str(f.get("id")))
    resolved: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for logical, field in fields.items():
        found = by_id.get(field.jira) or by_name.get(field.jira.casefold())
        if found is None:
            problems.append(
                ConfigProblem(
                    source="rules",
                    line=None,
                    where=f"fields.{logical}.jira",
                    message=f"Jira has no field with id or name {field.jira!r}",
                    hint="Use the field's id (customfield_NNNNN) or its exact name from Jira's "
                    "field list (GET /rest/api/2/field).",
                )
            )
        else:
            resolved[logical] = found
    if problems:
        raise ConfigError(problems)
    return resolved


def ticket_from_issue(
    issue: Mapping[str, Any], rules: Rules, field_ids: Mapping[str, str]
) -> Ticket:
    """Read a Jira issue (REST v2 or v3 JSON) into a Ticket using the rules' field map."""
    raw_fields = issue.get("fields")
    fields: Mapping[str, Any] = raw_fields if isinstance(raw_fields, Mapping) else {}
    values: dict[str, FieldValue] = {}
    malformed: dict[str, str] = {}
    for logical, field in rules.fields.items():
        raw = fields.get(field_ids.get(logical, field.jira))
        try:
            values[logical] = read_value(raw, field.kind)
        except ValueError as exc:
            malformed[logical] = str(exc)
    reporter = fields.get("reporter")
    reporter = reporter if isinstance(reporter, Mapping) else {}
    key = str(issue.get("key", ""))
    return Ticket(
        key=key,
        id=str(issue.get("id", "")),
        project=key.rsplit("-", 1)[0] if "-" in key else "",
        summary=_plain(fields.get("summary"))[:1000],
        status=_name(fields.get("status")),
        priority_name=_name(fields.get("priority")),
        reporter_account_id=matching(reporter.get("accountId"), ACCOUNT_ID),
        reporter_email=matching(reporter.get("emailAddress"), EMAIL),
        reporter_name=_plain(reporter.get("displayName"))[:200],
        updated=parse_jira_time(fields.get("updated")),
        values=values,
        malformed=malformed,
    )


def read_value(raw: Any, kind: FieldKind) -> FieldValue:
    """Normalise one raw Jira field value; ValueError says what was wrong with it."""
    if raw is None:
        return None
    if kind is FieldKind.TEXT:
        if isinstance(raw, str):
            return clean_text(raw).strip() or None
        if isinstance(raw, Mapping) and raw.get("type") == "doc":
            return adf_text(raw).strip() or None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        raise ValueError(f"expected text, found {type(raw).__name__}")
    if kind is FieldKind.OPTION:
        return _option(raw)
    if kind is FieldKind.OPTIONS:
        if not isinstance(raw, list):
            raise ValueError(f"expected a list of options, found {type(raw).__name__}")
        return [_option(item) for item in raw if item is not None]
    if kind is FieldKind.NUMBER:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        raise ValueError(f"expected a number, found {type(raw).__name__}")
    if kind is FieldKind.DATE:
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw[:10]).isoformat()
            except ValueError as exc:
                raise ValueError(f"{raw[:40]!r} is not a date") from exc
        raise ValueError(f"expected a date, found {type(raw).__name__}")
    if isinstance(raw, Mapping) and raw.get("accountId"):
        return str(raw["accountId"])
    raise ValueError(f"expected a user, found {type(raw).__name__}")


def adf_text(node: Any, depth: int = 0) -> str:
    """The plain text of an Atlassian Document Format node (bounded depth for hostile input)."""
    if depth > 64 or not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        return _leaf(node.get("text"))
    if kind in _ATTR_TEXT_NODES:
        attrs = node.get("attrs")
        return _leaf(attrs.get("text")) if isinstance(attrs, Mapping) else ""
    if kind == "hardBreak":
        return "\n"
    content = node.get("content")
    if not isinstance(content, list):
        return ""
    sep = "\n" if node.get("type") in {"doc", "bulletList", "orderedList"} else ""
    return sep.join(adf_text(child, depth + 1) for child in content)


def _leaf(text: Any) -> str:
    return clean_text(text) if isinstance(text, str) else ""


def parse_jira_time(raw: Any) -> datetime:
    """Parse Jira's `2026-11-27T10:00:00.000+0000` into aware UTC; epoch when unreadable."""
    if isinstance(raw, str):
        match = JIRA_TIME.match(raw.strip())
        if match:
            stamp, fraction, zone = match.groups()
            zone = (zone or "+0000").replace("Z", "+0000").replace(":", "")
            # Keep the milliseconds: replies are ordered against questions asked that second.
            micros = (fraction or ".0")[1:7].ljust(6, "0")
            try:
                parsed = datetime.strptime(f"{stamp}.{micros}{zone}", "%Y-%m-%dT%H:%M:%S.%f%z")
            except ValueError:
                return datetime(1970, 1, 1, tzinfo=UTC)
            return parsed.astimezone(UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def _option(raw: Any) -> str:
    if isinstance(raw, str):
        return clean_text(raw).strip()
    if isinstance(raw, Mapping) and isinstance(raw.get("value"), str):
        return clean_text(raw["value"]).strip()
    raise ValueError(f"expected an option, found {type(raw).__name__}")


def _name(raw: Any) -> str | None:
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
        return clean_text(raw["name"])[:200]
    return None


def _plain(raw: Any) -> str:
    if isinstance(raw, str):
        return clean_text(raw)
    if isinstance(raw, Mapping):
        return adf_text(raw)
    return ""


def matching(raw: Any, pattern: re.Pattern[str]) -> str | None:
    """`raw` if it is a string of the expected format, else None."""
    return raw if isinstance(raw, str) and pattern.fullmatch(raw) else None
