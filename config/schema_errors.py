"""Pydantic's errors about the rules, said so an admin can act on them: what is wrong, where,
and a hint (a field's own hint, else one for the kind of value expected).
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from config.problem_report import Loc, ProblemReport, names_text, short
from domain.rules import Rules

# Which top-level section a reference field names.
REFERENCES = {
    "team": "teams",
    "expert_team": "teams",
    "sop_owner_team": "teams",
    "calendar": "calendars",
    "sla_policy": "sla_policies",
    "request_type_field": "fields",
    "required_fields": "fields",
    "attest_teams": "teams",
}


FIELD_HINTS = {
    "timezone": "use an IANA zone name such as Asia/Kuala_Lumpur or Europe/Dublin",
    "country": "use a two-letter country code the holidays package knows, e.g. MY, SG, ID, TH, "
    "PH, VN or IE",
    "subdivision": "use a subdivision code of that country from the holidays package "
    "(MY 14 is Kuala Lumpur), or remove the key",
    "slack_channel": "use the channel id (channel details > About > Channel ID, like "
    "C0QA00001), not the #name",
    "announce_channels": "list channel ids (channel details > About > Channel ID, like "
    "C0QA00001), not #names",
    "roster": "list Slack member ids (profile > More > Copy member ID, like U0QA00001) or emails",
    "leads": "list Slack member ids (like U0QA00001) or emails",
    "approver": "use a Slack member id (like U0QA00001) or an email",
    "delegate": "use a Slack member id (like U0QA00001) or an email",
    "targets": "write working-time durations like 30m, 4h or 5d per priority P1..P4",
    "sla": "write a working-time duration like 30m, 4h or 5d",
    "quorum": "write `any`, `all` or `{n_of: 2}`",
    "Quorum.kind": "write `any`, `all` or `{n_of: 2}`",
    "n": "write `{n_of: 2}`: a whole number of approvers, at least 1",
    "at": "a fraction of the SLA elapsed: 0.5 is halfway, 1.0 is the breach, at most 2",
    "warn_at": "list fractions between 0 and 1, e.g. [0.5, 0.75]",
    "actions": "use remind_assignee, dm_lead, channel_post or jira_breach",
    "hours": 'write 24-hour local times like {start: "09:00", end: "18:00"}, end after start',
    "start": 'write a 24-hour local time like "09:00" (or a date YYYY-MM-DD out of office)',
    "end": 'write a 24-hour local time like "18:00", after start',
    "half_days": 'map dates to hours, e.g. 2026-12-24: {start: "09:00", end: "13:00"}',
    "closed_dates": "list dates as YYYY-MM-DD",
    "until": "write a date as YYYY-MM-DD, not before start",
    "workdays": "list mon, tue, wed, thu, fri, sat, sun",
    "version": "write `version: 1`",
    "projects": "list Jira project keys, e.g. [MODREQ]",
    "on_reject": "write end or return_to_expert",
    "TicketField.kind": "write text, option, options, number, date or user",
    "min_length": "whole numbers with 0 <= min_length <= max_length",
    "max_length": "whole numbers with 0 <= min_length <= max_length",
    "status_mapping": "map each stage (RECEIVED, NEEDS_INFO, EXPERT_REVIEW, SIGN_OFF, "
    "SOP_UPDATE, DONE, REJECTED, CANCELLED) to a Jira status name",
    "priority_mapping": "map Jira priority names to P1, P2, P3 or P4",
    "default_priority": "write P1, P2, P3 or P4",
    "[key]": "rename the key in lower_snake_case (e.g. bpo_ops) and update what refers to it",
}


TYPE_HINTS = {
    "list_type": "write a YAML list: `- item` lines or [a, b]",
    "dict_type": "write a mapping: `key: value` lines",
    "model_type": "write a mapping: `key: value` lines",
    "model_attributes_type": "write a mapping: `key: value` lines",
    "string_type": "write text; quote it if YAML reads it as a number, date or true/false",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "date_type": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date as YYYY-MM-DD, without a time",
    "time_type": 'write a time as "HH:MM"',
    "time_parsing": 'write a time as "HH:MM"',
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
}


def report_schema_error(report: ProblemReport, error: ErrorDetails, data: Any) -> None:
    """Record one pydantic error with a message and hint an admin can act on."""
    loc = tuple(error["loc"])
    model, field = _schema_at(loc)
    message, hint = _explain(error, model, field, data)
    report.add(loc, message, hint)


def _schema_at(loc: Loc) -> tuple[type[BaseModel] | None, str | None]:
    """The model whose field `loc` ends in, and that field (or the unknown key) name."""
    annotation: Any = Rules
    model: type[BaseModel] | None = None
    field: str | None = None
    for part in loc:
        annotation = _unwrap(annotation)
        if part == "[key]":
            return model, "[key]"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model, field = annotation, str(part)
            if field not in annotation.model_fields:
                return model, field
            annotation = annotation.model_fields[field].annotation
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            break
    return model, field


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as plain X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _explain(
    error: ErrorDetails, model: type[BaseModel] | None, field: str | None, data: Any
) -> tuple[str, str]:
    """A message and hint for one pydantic error."""
    kind = str(error["type"])
    name = model.__name__ if model else "Rules"
    hint = (
        FIELD_HINTS.get(f"{name}.{field}")
        or FIELD_HINTS.get(field or "")
        or TYPE_HINTS.get(kind, "")
    )
    if field == "[key]" and kind != "value_error":  # a stage or priority key, not a name
        hint = TYPE_HINTS.get(kind, "")
    if kind == "missing":
        about = model.model_fields[field].description if model and field else None
        hint = f"add `{field}:`" + (f" ({about})" if about else "")
        known = _known(data, REFERENCES.get(field or ""))
        return "is required", hint + (f"; one of: {names_text(known)}" if known else "")
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(field or "", allowed, n=1)
        guess = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key in {name}", f"{guess}{name} takes: {', '.join(allowed)}"
    if not error["loc"]:
        sections = ", ".join(Rules.model_fields)
        return "the rules file must be a mapping of sections", f"sections: {sections}"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, str | int | float):
        message += f" (got {short(value)})"
    return message, hint


def _known(data: Any, section: str | None) -> list[str]:
    """The keys of a top-level section of the raw data, for "one of: ..." hints."""
    if section is None or not isinstance(data, dict):
        return []
    found = data.get(section)
    return [str(k) for k in found] if isinstance(found, dict) else []
