"""The stand-in's tables: users, fields, workflow, projects and issues, and the lookups over them.

`JiraTables` holds what Jira knows and answers questions about it; it changes nothing.
Rendering, JQL search and webhooks read it; `JiraState` builds on it with the operations
that change it, under the same re-entrant `lock`. The lookups a caller may make on its own
(`user`, `authenticate`, `field`, `issue`) take the lock; the others are called under it.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sandbox.jira.model import (
    PRIORITIES,
    Clock,
    FieldDef,
    FieldKind,
    Issue,
    IssueType,
    JiraApiError,
    Project,
    Status,
    Transition,
    User,
    cannot_set,
    not_found_issue,
)

ISSUE_TYPES: tuple[IssueType, ...] = (
    IssueType("10001", "Task", "A small, distinct piece of work."),
    IssueType("10002", "Request", "A business request for the moderation-strategy team."),
)

# System fields as GET /field lists them: id, name, schema type, items, clause names,
# navigable, orderable. `issuekey` and `statusCategory` are searchable but never rendered.
_SYSTEM_FIELDS: tuple[tuple[str, str, str | None, str | None, tuple[str, ...], bool, bool], ...] = (
    ("issuekey", "Key", None, None, ("id", "issue", "issuekey", "key"), False, False),
    ("summary", "Summary", "string", None, ("summary",), True, True),
    ("description", "Description", "string", None, ("description",), True, True),
    ("issuetype", "Issue Type", "issuetype", None, ("issuetype", "type"), True, True),
    ("project", "Project", "project", None, ("project",), True, False),
    ("status", "Status", "status", None, ("status",), True, False),
    (
        "statusCategory",
        "Status Category",
        "statusCategory",
        None,
        ("statusCategory",),
        False,
        False,
    ),
    ("priority", "Priority", "priority", None, ("priority",), True, True),
    ("reporter", "Reporter", "user", None, ("reporter",), True, True),
    ("creator", "Creator", "user", None, ("creator",), True, False),
    ("assignee", "Assignee", "user", None, ("assignee",), True, True),
    ("labels", "Labels", "array", "string", ("labels",), True, True),
    ("duedate", "Due date", "date", None, ("due", "duedate"), True, True),
    ("created", "Created", "datetime", None, ("created", "createdDate"), True, False),
    ("updated", "Updated", "datetime", None, ("updated", "updatedDate"), True, False),
    ("resolution", "Resolution", "resolution", None, ("resolution",), True, True),
    ("resolutiondate", "Resolved", "datetime", None, ("resolutiondate", "resolved"), True, False),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        "datetime",
        None,
        ("statusCategoryChangedDate",),
        True,
        False,
    ),
    ("comment", "Comment", "comments-page", None, ("comment",), False, True),
)


def _option_value(fd: FieldDef, option_id: str) -> str:
    option = fd.option_by(option_id=option_id)
    if option is None:
        raise JiraApiError(500, [f"Field '{fd.name}' stores unknown option {option_id}."])
    return option.value


class JiraTables:
    """The stand-in's entities, behind one re-entrant lock, and the lookups over them."""

    def __init__(self, *, base_url: str | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        # When None, responses use the URL the request came in on (out-of-process servers).
        self.base_url = base_url
        self.users: dict[str, User] = {}
        self.fields: dict[str, FieldDef] = {}
        self.statuses: dict[str, Status] = {}
        self.transitions: list[Transition] = []
        self.issuetypes: dict[str, IssueType] = {t.id: t for t in ISSUE_TYPES}
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}
        # Issue ids by key, so `issue()` takes either.
        self._keys: dict[str, str] = {}
        for fid, name, stype, items, clauses, navigable, orderable in _SYSTEM_FIELDS:
            self.fields[fid] = FieldDef(
                id=fid,
                name=name,
                schema_type=stype or "",
                items=items,
                system=fid if stype else None,
                clause_names=clauses,
                navigable=navigable,
                orderable=orderable,
            )

    def now(self) -> datetime:
        """The stand-in clock's current instant."""
        return self.clock.now()

    def user(self, who: str) -> User:
        """A user by account id or email (case-insensitive)."""
        with self.lock:
            if who in self.users:
                return self.users[who]
            for user in self.users.values():
                if user.email.casefold() == who.casefold():
                    return user
            raise JiraApiError(
                404, ["Specified user does not exist or you do not have required permissions"]
            )

    def authenticate(self, email: str, token: str) -> User | None:
        """The user these Basic credentials belong to, if they are right."""
        with self.lock:
            for user in self.users.values():
                if user.email.casefold() == email.casefold() and user.api_token == token:
                    return user
            return None

    def api_user(self) -> User:
        """The first user with an API token: who control-API edits act as by default."""
        for user in self.users.values():
            if user.api_token is not None:
                return user
        raise JiraApiError(500, ["The sandbox has no API user."])

    def field(self, name_or_id: str) -> FieldDef:
        """A field by id or display name (case-insensitive)."""
        with self.lock:
            if name_or_id in self.fields:
                return self.fields[name_or_id]
            for fd in self.fields.values():
                if fd.name.casefold() == name_or_id.casefold():
                    return fd
            raise JiraApiError(400, errors={name_or_id: cannot_set(name_or_id)})

    def status_by_name(self, name: str) -> Status:
        """A status by name (case-insensitive) or id."""
        for status in self.statuses.values():
            if status.name.casefold() == name.casefold() or status.id == name:
                return status
        raise JiraApiError(400, [f"Status '{name}' does not exist."])

    def issue(self, id_or_key: str) -> Issue:
        """An issue by id or key (keys are case-insensitive in Jira URLs)."""
        with self.lock:
            issue_id = id_or_key if id_or_key in self.issues else self._keys.get(id_or_key.upper())
            if issue_id is None:
                raise not_found_issue()
            return self.issues[issue_id]

    def available_transitions(self, issue: Issue) -> list[Transition]:
        """Transitions open to an issue in its current status (none back into it)."""
        return [
            t
            for t in self.transitions
            if t.to_id != issue.status_id and (t.from_ids is None or issue.status_id in t.from_ids)
        ]

    def priority_name(self, priority_id: str) -> str:
        """The name of a priority id."""
        return dict(PRIORITIES)[priority_id]

    def plain_value(self, issue: Issue, field_id: str) -> Any:
        """A stored value as plain data: option values, emails, names, ISO dates."""
        fd = self.fields[field_id]
        value = issue.values.get(field_id)
        if value is None:
            return None
        if fd.kind is FieldKind.OPTION:
            return _option_value(fd, value)
        if fd.kind is FieldKind.OPTIONS:
            return [_option_value(fd, v) for v in value]
        if fd.schema_type == "user":
            return self.users[value].email
        if field_id == "priority":
            return self.priority_name(value)
        return list(value) if isinstance(value, list) else value
