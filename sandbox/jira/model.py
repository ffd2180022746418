"""The entities a Jira Cloud stand-in keeps: users, fields, workflow, projects, issues, logs.

Everything here is plain data. Values on an issue are stored in an internal form (an option
id, an account id, a status id) and turned into Jira's JSON only when rendered, so one store
serves the v2 (wiki-markup) and v3 (ADF) renderings alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any


class JiraApiError(Exception):
    """A request the stand-in refuses, rendered as Jira's ErrorCollection with `status`."""

    def __init__(
        self,
        status: int,
        messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.messages = messages or []
        self.errors = errors or {}
        super().__init__(f"HTTP {status}: {'; '.join(self.messages + list(self.errors.values()))}")

    def body(self) -> dict[str, Any]:
        """The ErrorCollection body Jira sends with this status."""
        return {"errorMessages": self.messages, "errors": self.errors}


def not_found_issue() -> JiraApiError:
    """The 404 Jira answers for an unknown issue (it never says whether it exists)."""
    return JiraApiError(404, ["Issue does not exist or you do not have permission to see it."])


def cannot_set(field_id: str) -> str:
    """Jira's message for a field an edit may not set: off the screen, or unknown."""
    return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."


def jira_time(moment: datetime, zone: tzinfo = UTC) -> str:
    """Format like Jira does: `2026-11-27T10:00:00.000+0000`, in the viewer's zone."""
    local = moment.astimezone(zone)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + (local.strftime("%z"))
    )


def parse_jira_time(text: str) -> datetime:
    """Parse Jira's timestamp format (and ISO 8601 generally) into an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def account_id_for(email: str) -> str:
    """A stable, Cloud-looking account id derived from an email address."""
    return "712020:" + hashlib.sha1(email.lower().encode(), usedforsecurity=False).hexdigest()[:24]


class Clock:
    """The stand-in's notion of now: real UTC time, or a frozen instant tests can move."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        """The current instant, truncated to milliseconds as Jira stores it."""
        moment = self._frozen or datetime.now(UTC) + self._offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def freeze(self, moment: datetime | None) -> None:
        """Stop the clock at `moment` (aware), or let it run again from real time (None)."""
        if moment is not None and moment.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        self._frozen = moment
        self._offset = timedelta()

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (frozen or not)."""
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta


@dataclass
class User:
    """A Jira Cloud account; only users with an `api_token` can call the REST API."""

    account_id: str
    email: str
    display_name: str
    api_token: str | None = None
    time_zone: str = "UTC"
    email_visible: bool = True
    active: bool = True


# Jira Cloud's default priorities and resolutions, by id.
PRIORITIES: tuple[tuple[str, str], ...] = (
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
)
DEFAULT_PRIORITY = "3"
RESOLUTIONS: tuple[tuple[str, str], ...] = (
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
    ("10003", "Declined"),
)


class FieldKind(StrEnum):
    """Custom field types the stand-in knows, named like govflow's rule schema."""

    OPTION = "option"
    OPTIONS = "options"
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    DATE = "date"
    LABELS = "labels"
    USER = "user"


# Jira's schema block for each custom field kind: (type, items, custom type key).
CUSTOM_SCHEMAS: dict[FieldKind, tuple[str, str | None, str]] = {
    FieldKind.OPTION: ("option", None, "select"),
    FieldKind.OPTIONS: ("array", "option", "multiselect"),
    FieldKind.TEXT: ("string", None, "textfield"),
    FieldKind.TEXTAREA: ("string", None, "textarea"),
    FieldKind.NUMBER: ("number", None, "float"),
    FieldKind.DATE: ("date", None, "datepicker"),
    FieldKind.LABELS: ("array", "string", "labels"),
    FieldKind.USER: ("user", None, "userpicker"),
}


@dataclass(frozen=True)
class Option:
    """One allowed value of a select field."""

    id: str
    value: str


@dataclass
class FieldDef:
    """A field as `GET /field` lists it; `kind` is set for custom fields only."""

    id: str
    name: str
    schema_type: str
    items: str | None = None
    system: str | None = None
    kind: FieldKind | None = None
    options: list[Option] = field(default_factory=list)
    clause_names: tuple[str, ...] = ()
    navigable: bool = True
    orderable: bool = True
    searchable: bool = True

    @property
    def custom(self) -> bool:
        """Whether this is a custom field (`customfield_NNNNN`)."""
        return self.kind is not None

    @property
    def numeric_id(self) -> int:
        """The NNNNN of `customfield_NNNNN`."""
        return int(self.id.removeprefix("customfield_"))

    def option_by(self, *, value: str | None = None, option_id: str | None = None) -> Option | None:
        """The option with this value (case-insensitive) or id, if the field has one."""
        for option in self.options:
            if option_id is not None and option.id == str(option_id):
                return option
            if value is not None and option.value.casefold() == value.casefold():
                return option
        return None


class StatusCategory(StrEnum):
    """Jira's three status categories."""

    NEW = "new"
    INDETERMINATE = "indeterminate"
    DONE = "done"


# id, display name, colour of each category, as Jira Cloud reports them.
CATEGORY_INFO: dict[StatusCategory, tuple[int, str, str]] = {
    StatusCategory.NEW: (2, "To Do", "blue-gray"),
    StatusCategory.INDETERMINATE: (4, "In Progress", "yellow"),
    StatusCategory.DONE: (3, "Done", "green"),
}


@dataclass(frozen=True)
class Status:
    """A workflow status; entering a DONE status sets `resolution` (if given)."""

    id: str
    name: str
    category: StatusCategory
    resolution: str | None = None


@dataclass(frozen=True)
class Transition:
    """A workflow transition; `from_ids` None means global (from any other status)."""

    id: str
    name: str
    to_id: str
    from_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class IssueType:
    """An issue type."""

    id: str
    name: str
    description: str = ""


@dataclass
class Project:
    """A project; its key prefixes its issues' keys."""

    id: str
    key: str
    name: str
    lead_account_id: str | None = None
    next_number: int = 1


@dataclass
class Comment:
    """A comment; `body` is wiki markup (v3 requests are converted on the way in)."""

    id: str
    author_id: str
    body: str
    created: datetime
    updated: datetime
    update_author_id: str
    visibility: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChangeItem:
    """One field change inside a changelog history entry."""

    field_id: str
    field_name: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


@dataclass(frozen=True)
class History:
    """One changelog entry: who changed what, when."""

    id: str
    author_id: str
    created: datetime
    items: tuple[ChangeItem, ...]


@dataclass
class Issue:
    """An issue; `values` maps field ids to stored (internal) values."""

    id: str
    key: str
    project_key: str
    issuetype_id: str
    status_id: str
    created: datetime
    updated: datetime
    status_changed: datetime
    values: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    history: list[History] = field(default_factory=list)
    resolution: str | None = None
    resolution_date: datetime | None = None

    @property
    def number(self) -> int:
        """The numeric part of the key, for Jira's key ordering."""
        return int(self.key.rsplit("-", 1)[1])


@dataclass(frozen=True)
class CommentRecord:
    """A comment as the test-control API reports it."""

    issue_key: str
    id: str
    author_email: str
    author_account_id: str
    body: str
    created: str
    updated: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the HTTP control API."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class TransitionRecord:
    """A transition performed through the REST API or the control API."""

    issue_key: str
    transition_id: str
    from_status: str
    to_status: str
    by_email: str
    at: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the HTTP control API."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class FieldChange:
    """One field set on an issue (by create, edit or transition), old and new as strings."""

    issue_key: str
    field_id: str
    field_name: str
    old: str | None
    new: str | None
    by_email: str
    at: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the HTTP control API."""
        return dict(self.__dict__)


@dataclass
class RecordedRequest:
    """A request received; `operation` is the fault key ("GET search/jql"), `status` None
    when the connection was dropped."""

    method: str
    operation: str
    path: str
    query: str
    body: Any
    account_id: str | None
    at: str
    status: int | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the HTTP control API."""
        return dict(self.__dict__)
