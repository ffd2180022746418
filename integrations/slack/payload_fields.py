"""Reading one field of an untrusted Slack payload: the formats we accept, and total readers.

Every reader answers with a value or `PayloadInvalid`, never another exception, on any input
(missing keys, wrong types, huge strings, bad JSON, deep nesting). Identifiers are checked
against their formats, and every format is bounded, so every string kept from a payload is
short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from domain.errors import PayloadInvalid
from integrations.slack.action_ids import ActionId

# Formats of what we accept from a payload. ASCII classes throughout: `\d` would admit
# other scripts' digits. Every pattern is bounded, which bounds every string we keep.
JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}")
TEAM_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
WORKSPACE_ID = re.compile(r"[TE][A-Z0-9]{2,31}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}")
TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
VIEW_ID = re.compile(r"V[A-Z0-9]{2,63}")
VIEW_HASH = re.compile(r"[A-Za-z0-9._-]{1,128}")
TRIGGER_ID = re.compile(r"[A-Za-z0-9._-]{1,255}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}")
URL = re.compile(r"https?://[!-~]{1,2000}")
SOP_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
SOP_REF = re.compile(r"SOP(?:-[A-Z0-9]{1,20}){1,3}")
MAX_ROUND = 10_000
# Slack's own caps: a button value holds 2000 characters, private_metadata 3000.
VALUE_MAX = 2000
_METADATA_MAX = 3000


def decode_json(raw: str, what: str, *, limit: int = _METADATA_MAX) -> Any:
    """Decoded JSON from a bounded string; deep nesting and bad syntax are PayloadInvalid."""
    if len(raw) > limit:
        raise PayloadInvalid(f"{what} is longer than Slack allows")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PayloadInvalid(f"{what} is not valid JSON") from exc


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A required JSON object."""
    if not isinstance(value, Mapping):
        raise PayloadInvalid(f"{what} is missing or not an object")
    return value


def optional_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A JSON object, or an empty one when absent."""
    if value is None:
        return {}
    return as_mapping(value, what)


def as_string(value: Any, what: str) -> str:
    """A required string."""
    if not isinstance(value, str):
        raise PayloadInvalid(f"{what} is missing or not a string")
    return value


def required_id(value: Any, pattern: re.Pattern[str], what: str) -> str:
    """A required identifier matching `pattern` (whose bounds bound the result)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PayloadInvalid(f"{what} is missing or malformed")
    return value


def optional_id(value: Any, pattern: re.Pattern[str], what: str) -> str | None:
    """An identifier matching `pattern`, or None when absent or empty."""
    # Slack sends "" or null for "not applicable" (e.g. no response_url in a modal).
    if value is None or value == "":
        return None
    return required_id(value, pattern, what)


def optional_entry(value: Any, what: str) -> str | None:
    """A roster entry (Slack user id or email) or None."""
    if value is None:
        return None
    if isinstance(value, str) and (USER_ID.fullmatch(value) or _EMAIL.fullmatch(value)):
        return value
    raise PayloadInvalid(f"{what} is not a Slack user id or an email")


def round_number(value: Any, what: str) -> int:
    """A round number between 0 and MAX_ROUND."""
    # bool is an int to Python, never to us.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROUND:
        raise PayloadInvalid(f"{what} is missing or not a round number")
    return value


def action_from(value: Any, what: str) -> ActionId:
    """One of govflow's action ids."""
    if not isinstance(value, str) or value not in {member.value for member in ActionId}:
        raise PayloadInvalid(f"{what} {show(value)} is not a govflow action")
    return ActionId(value)


def show(value: Any) -> str:
    """A short, safe rendering of a payload value for an error message."""
    if isinstance(value, str):
        return repr(bounded(value, 40))
    return "nothing" if value is None else f"a {type(value).__name__}"


def bounded(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_error(exc: ValidationError) -> str:
    """The first of a validation's errors, bounded, for a message."""
    errors = exc.errors()
    message = str(errors[0].get("msg", "invalid")) if errors else "invalid"
    return bounded(message.removeprefix("Value error, "), 300)
