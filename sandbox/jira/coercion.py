"""Turn the values of a REST request body into the stored form, refusing what Jira refuses.

The inverse of `render`: an option arrives as `{"id"}` or `{"value"}` and is stored as its
id, a user as `{"accountId"}` and is stored as the account id, rich text as wiki markup
(v2) or an ADF document (v3) and is stored as text. `lenient` also takes the plain values
the control API passes (`"MY"` for an option, an email for a user, `"High"` for a
priority). A value Jira would refuse raises `ValueError` (or `JiraApiError`) with Jira's
wording, which the callers gather into an ErrorCollection keyed by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sandbox.jira import adf
from sandbox.jira.adf import NOT_ADF
from sandbox.jira.model import (
    PRIORITIES,
    FieldDef,
    FieldKind,
    IssueType,
    JiraApiError,
    Project,
    cannot_set,
)
from sandbox.jira.tables import JiraTables

# Fields an edit (PUT issue, POST transitions) may set; the rest are Jira-managed.
EDITABLE_SYSTEM = frozenset(
    {"summary", "description", "labels", "priority", "reporter", "assignee", "duedate"}
)


def project_from(
    tables: JiraTables, raw: Any, errors: dict[str, str], *, lenient: bool
) -> Project | None:
    """The project a create body names (by key or id), or None with the error noted."""
    ref = raw if lenient and isinstance(raw, str) else None
    if isinstance(raw, Mapping):
        ref = raw.get("key") or raw.get("id")
    for project in tables.projects.values():
        if ref is not None and str(ref).upper() in (project.key, project.id):
            return project
    errors["project"] = "Specify a valid project ID or key"
    return None


def issuetype_from(
    tables: JiraTables, raw: Any, errors: dict[str, str], *, lenient: bool
) -> IssueType | None:
    """The issue type a create body names (by id or name), or None with the error noted."""
    ref = raw if lenient and isinstance(raw, str) else None
    if isinstance(raw, Mapping):
        ref = raw.get("id") or raw.get("name")
    for itype in tables.issuetypes.values():
        if ref is not None and str(ref) in (itype.id, itype.name):
            return itype
    errors["issuetype"] = "Specify an issue type"
    return None


def editable(tables: JiraTables, field_id: str) -> FieldDef:
    """A field an edit may set, or Jira's 400 for one it may not."""
    fd = tables.fields.get(field_id)
    if fd is None or (not fd.custom and field_id not in EDITABLE_SYSTEM):
        raise JiraApiError(400, errors={field_id: cannot_set(field_id)})
    return fd


def coerce_all(
    tables: JiraTables, fields: Mapping[str, Any], *, lenient: bool, v3: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every field of a `fields` body in stored form, and the errors by field id."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for fid, raw in fields.items():
        try:
            fd = editable(tables, fid)
            values[fid] = _coerce(tables, fd, raw, lenient=lenient, v3=v3)
        except JiraApiError as exc:
            errors.update(exc.errors)
        except ValueError as exc:
            errors[fid] = str(exc)
    return values, errors


def _coerce(tables: JiraTables, fd: FieldDef, raw: Any, *, lenient: bool, v3: bool) -> Any:
    """Turn a REST value (or a plain control value) into the stored form."""
    if fd.id == "summary":
        if not isinstance(raw, str):
            raise ValueError("Operation value must be a string")
        if "\n" in raw or "\r" in raw:
            raise ValueError("The summary is invalid because it contains newline characters.")
        if len(raw) > 255:
            raise ValueError("Summary must be less than 255 characters.")
        return raw
    if fd.id == "priority":
        return _coerce_priority(raw, lenient=lenient)
    if fd.schema_type == "user":
        if raw is None and fd.id == "reporter":
            raise ValueError("Reporter is required.")
        return coerce_user(tables, raw, lenient=lenient)
    if fd.id == "labels" or fd.kind is FieldKind.LABELS:
        return _coerce_labels(raw, lenient=lenient)
    if raw is None:
        return None
    if fd.id == "description" or fd.kind is FieldKind.TEXTAREA:
        return _coerce_text(raw, v3=v3, limit=32767)
    if fd.kind is FieldKind.TEXT:
        if not isinstance(raw, str):
            raise ValueError("Operation value must be a string")
        if len(raw) > 255:
            raise ValueError("You can only enter 255 characters in this field.")
        return raw
    if fd.id == "duedate" or fd.kind is FieldKind.DATE:
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError as exc:
            raise ValueError(f"Error parsing date string: {raw}") from exc
    if fd.kind is FieldKind.NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("Operation value must be a number")
        return float(raw)
    if fd.kind is FieldKind.OPTION:
        return _coerce_option(fd, raw, lenient=lenient)
    if fd.kind is FieldKind.OPTIONS:
        if not isinstance(raw, list):
            raise ValueError("data was not an array")
        ids = [_coerce_option(fd, item, lenient=lenient) for item in raw]
        return list(dict.fromkeys(ids))
    raise ValueError(cannot_set(fd.id))


def _coerce_text(raw: Any, *, v3: bool, limit: int) -> str:
    if v3:
        if not isinstance(raw, Mapping):
            raise ValueError(NOT_ADF)
        text = adf.to_text(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise ValueError("Operation value must be a string")
    if len(text) > limit:
        raise ValueError(f"You can only enter {limit} characters in this field.")
    return text


def _coerce_option(fd: FieldDef, raw: Any, *, lenient: bool) -> str:
    if lenient and isinstance(raw, str):
        raw = {"value": raw}
    if not isinstance(raw, Mapping):
        raise ValueError("Could not find valid 'id' or 'value' in the Parent Option object.")
    if "id" in raw:
        option = fd.option_by(option_id=str(raw["id"]))
        if option is None:
            raise ValueError(f"Option id '{raw['id']}' is not valid")
        return option.id
    if "value" in raw:
        option = fd.option_by(value=str(raw["value"]))
        if option is None:
            raise ValueError(f"Option value '{raw['value']}' is not valid")
        return option.id
    raise ValueError("Could not find valid 'id' or 'value' in the Parent Option object.")


def coerce_user(tables: JiraTables, raw: Any, *, lenient: bool) -> str | None:
    """The account id of the user a value names: `{"accountId"}`; lenient, also an id or email."""
    if raw is None:
        return None
    ref: Any = raw if lenient and isinstance(raw, str) else None
    if isinstance(raw, Mapping):
        if "name" in raw and "accountId" not in raw:
            # Jira Cloud dropped usernames (GDPR); only accountId identifies a user.
            raise ValueError("The 'name' property is not supported; use 'accountId'.")
        ref = raw.get("accountId") or raw.get("id")
    if not isinstance(ref, str):
        raise ValueError("Specify a user by accountId.")
    try:
        return tables.user(ref).account_id
    except JiraApiError as exc:
        raise ValueError(f"User with accountId '{ref}' does not exist.") from exc


def _coerce_priority(raw: Any, *, lenient: bool) -> str:
    if lenient and isinstance(raw, str):
        raw = {"name": raw}
    if isinstance(raw, Mapping):
        for pid, name in PRIORITIES:
            if str(raw.get("id")) == pid or raw.get("name") == name:
                return pid
    raise ValueError("Specify a valid priority (name or id).")


def _coerce_labels(raw: Any, *, lenient: bool) -> list[str]:
    if raw is None:
        return []
    if lenient and isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError("data was not an array")
    for label in raw:
        if not label or any(c.isspace() for c in label):
            raise ValueError(f"The label '{label}' contains spaces which is invalid.")
        if len(label) > 255:
            raise ValueError("The label must not be longer than 255 characters.")
    return list(dict.fromkeys(raw))


def apply_ops(
    tables: JiraTables, fd: FieldDef, current: Any, operations: Any, *, lenient: bool, v3: bool
) -> Any:
    """Apply `update` operations (set/add/remove) to a field's current value."""
    if not isinstance(operations, list):
        raise ValueError("Field operations must be a list.")
    multi = fd.schema_type == "array"
    value = list(current or []) if multi else current
    for op in operations:
        if not isinstance(op, Mapping) or len(op) != 1:
            raise ValueError("Each operation must have exactly one of set, add, remove, edit.")
        verb, arg = next(iter(op.items()))
        if verb == "set":
            value = _coerce(tables, fd, arg, lenient=lenient, v3=v3)
        elif verb in ("add", "remove") and multi:
            items = _coerce(tables, fd, [arg], lenient=lenient, v3=v3)
            if verb == "add":
                value = list(dict.fromkeys([*value, *items]))
            else:
                value = [v for v in value if v not in items]
        else:
            raise ValueError(f"Field '{fd.id}' does not support operation '{verb}'.")
    return value


def comment_ops(operations: Any, *, v3: bool) -> list[str]:
    """The comment bodies an `update.comment` list adds (Jira allows only `add` there)."""
    bodies: list[str] = []
    for op in operations if isinstance(operations, list) else []:
        add = op.get("add") if isinstance(op, Mapping) else None
        if not isinstance(add, Mapping):
            raise ValueError("Comments can only be added.")
        bodies.append(comment_body(add.get("body"), v3=v3))
    return bodies


def comment_body(body: Any, *, v3: bool) -> str:
    """A comment body as stored text, or Jira's 400 for an empty or malformed one."""
    if body is None or body == "":
        raise JiraApiError(400, errors={"comment": "Comment body can not be empty!"})
    try:
        text = _coerce_text(body, v3=v3, limit=32767)
    except ValueError as exc:
        raise JiraApiError(400, errors={"comment": str(exc)}) from exc
    if not text.strip():
        raise JiraApiError(400, errors={"comment": "Comment body can not be empty!"})
    return text
