"""The stand-in's state: its tables, the operations that change them, and logs of what happened.

`JiraState` extends `JiraTables` (the entities and the lookups that rendering, search and
webhooks read) with setup, REST and control-API writes (their request values turned into
stored form by `coercion`), search paging and webhook publication. It is shared between
uvicorn's event loop thread and the test thread, so every public operation takes `lock`
(re-entrant); the app also holds it while it renders, so a response is one consistent
snapshot. Methods raise `JiraApiError` with the status and ErrorCollection Jira gives for
the same mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.jira import coercion
from sandbox.jira.jql import JqlError, parse
from sandbox.jira.model import (
    CUSTOM_SCHEMAS,
    DEFAULT_PRIORITY,
    ChangeItem,
    Comment,
    CommentRecord,
    FieldChange,
    FieldDef,
    FieldKind,
    History,
    Issue,
    JiraApiError,
    Option,
    Project,
    RecordedRequest,
    Status,
    StatusCategory,
    Transition,
    TransitionRecord,
    User,
    account_id_for,
    jira_time,
)
from sandbox.jira.search import compile_query
from sandbox.jira.tables import JiraTables
from sandbox.jira.webhooks import Changes, WebhookSender, payloads

API_USER_EMAIL = "govflow-bot@example.com"
API_USER_TOKEN = "sandbox-jira-token"

# The govflow workflow: every status reachable from any other by a transition named after it.
DEFAULT_STATUSES: tuple[tuple[str, StatusCategory, str | None], ...] = (
    ("Open", StatusCategory.NEW, None),
    ("Waiting for requester", StatusCategory.INDETERMINATE, None),
    ("In review", StatusCategory.INDETERMINATE, None),
    ("Awaiting approval", StatusCategory.INDETERMINATE, None),
    ("Implementing", StatusCategory.INDETERMINATE, None),
    ("Done", StatusCategory.DONE, "Done"),
    ("Rejected", StatusCategory.DONE, "Declined"),
    ("Cancelled", StatusCategory.DONE, "Won't Do"),
)
# Jira's search page caps: id/key-only searches may ask for far more than full ones.
PAGE_CAP = 100
ID_ONLY_PAGE_CAP = 5000


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: the issues and the token for the next page, if any."""

    issues: list[Issue]
    next_token: str | None


class JiraState(JiraTables):
    """The stand-in's tables with every operation that changes them, and logs of what happened."""

    def __init__(self, *, base_url: str | None = None, with_api_user: bool = True) -> None:
        super().__init__(base_url=base_url)
        # Where `/browse/KEY` sends a browser: the sandbox console's ticket page, once known.
        self.console_url: str | None = None
        self.requests: list[RecordedRequest] = []
        self.transition_log: list[TransitionRecord] = []
        self.change_log: list[FieldChange] = []
        self.webhooks = WebhookSender()
        # What the operation in progress changed, per issue id, published when it completes.
        self._changes: dict[str, Changes] = {}
        self._depth = 0
        self._next_issue_id = 10000
        self._next_comment_id = 10000
        self._next_history_id = 10000
        self._next_custom_id = 10050
        self._next_option_id = 10100
        self._next_project_id = 10000
        self.set_workflow(
            [(name, category, resolution) for name, category, resolution in DEFAULT_STATUSES]
        )
        if with_api_user:
            self.add_user(API_USER_EMAIL, "govflow bot", api_token=API_USER_TOKEN)

    # ---- setup -----------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        display_name: str,
        *,
        api_token: str | None = None,
        account_id: str | None = None,
        time_zone: str = "UTC",
        email_visible: bool = True,
    ) -> User:
        """Create an account; give it an `api_token` to let it call the REST API."""
        ZoneInfo(time_zone)  # fail early on a zone name Jira would not have either
        with self.lock:
            user = User(
                account_id=account_id or account_id_for(email),
                email=email,
                display_name=display_name,
                api_token=api_token,
                time_zone=time_zone,
                email_visible=email_visible,
            )
            self.users[user.account_id] = user
            return user

    def add_project(self, key: str, name: str, *, lead: str | None = None) -> Project:
        """Create a project whose issues will be keyed `KEY-1`, `KEY-2`, ..."""
        with self.lock:
            if key.upper() in self.projects:
                raise JiraApiError(
                    400, errors={"projectKey": f"Project '{key}' uses this project key."}
                )
            project = Project(
                id=str(self._next_project_id),
                key=key.upper(),
                name=name,
                lead_account_id=self.user(lead).account_id if lead else None,
            )
            self._next_project_id += 1
            self.projects[project.key] = project
            return project

    def add_custom_field(
        self,
        name: str,
        kind: FieldKind | str,
        *,
        options: Iterable[str] = (),
        field_id: str | None = None,
    ) -> FieldDef:
        """Define a custom field (`customfield_NNNNN`), with options for select kinds."""
        kind = FieldKind(kind)
        with self.lock:
            if field_id is None:
                field_id = f"customfield_{self._next_custom_id}"
            number = int(field_id.removeprefix("customfield_"))
            self._next_custom_id = max(self._next_custom_id, number) + 1
            if field_id in self.fields:
                raise JiraApiError(400, [f"A field with id {field_id} already exists."])
            stype, items, _ = CUSTOM_SCHEMAS[kind]
            clause_suffix = {"option": "Dropdown", "options": "Multiple Choice"}.get(
                kind, "Short text"
            )
            fd = FieldDef(
                id=field_id,
                name=name,
                schema_type=stype,
                items=items,
                kind=kind,
                clause_names=(f"cf[{number}]", name, f"{name}[{clause_suffix}]"),
            )
            self.fields[field_id] = fd
            for value in options:
                self.add_option(field_id, value)
            return fd

    def add_option(self, field: str, value: str) -> Option:
        """Allow one more value on a select field (as a Jira admin would)."""
        with self.lock:
            fd = self.field(field)
            if fd.kind not in (FieldKind.OPTION, FieldKind.OPTIONS):
                raise JiraApiError(400, [f"Field '{fd.name}' has no options."])
            option = Option(str(self._next_option_id), value)
            self._next_option_id += 1
            fd.options.append(option)
            return option

    def set_workflow(
        self,
        statuses: list[tuple[str, StatusCategory, str | None]],
        transitions: list[tuple[str, str, list[str] | None]] | None = None,
    ) -> None:
        """Replace the workflow: statuses (name, category, resolution) and transitions."""
        # The first status is the initial one. Transitions are (name, target status, from
        # statuses or None for global); by default every status gets a global transition
        # named after it.
        with self.lock:
            self.statuses = {}
            for index, (name, category, resolution) in enumerate(statuses):
                sid = "1" if index == 0 else str(10000 + index)
                self.statuses[sid] = Status(sid, name, StatusCategory(category), resolution)
            wanted = transitions or [(name, name, None) for name, _, _ in statuses]
            self.transitions = []
            for index, (name, target, sources) in enumerate(wanted):
                self.transitions.append(
                    Transition(
                        id=str(11 + 10 * index),
                        name=name,
                        to_id=self.status_by_name(target).id,
                        from_ids=None
                        if sources is None
                        else frozenset(self.status_by_name(s).id for s in sources),
                    )
                )

    # ---- writes (REST and control API share these) ----------------------------------------

    def create_issue(
        self,
        actor: User,
        fields: Mapping[str, Any],
        update: Mapping[str, Any] | None = None,
        *,
        lenient: bool = False,
        v3: bool = False,
    ) -> Issue:
        """Create an issue from a POST issue body's `fields`/`update` (or control values)."""
        with self._operation():
            fields = dict(fields)
            errors: dict[str, str] = {}
            project = coercion.project_from(
                self, fields.pop("project", None), errors, lenient=lenient
            )
            itype = coercion.issuetype_from(
                self, fields.pop("issuetype", None), errors, lenient=lenient
            )
            summary = fields.get("summary")
            if not summary:
                errors["summary"] = "You must specify a summary of the issue."
            reporter_raw = fields.pop("reporter", None)
            values, more_errors = coercion.coerce_all(self, fields, lenient=lenient, v3=v3)
            errors.update(more_errors)
            reporter = actor.account_id
            if reporter_raw is not None:
                try:
                    reporter = (
                        coercion.coerce_user(self, reporter_raw, lenient=lenient)
                        or actor.account_id
                    )
                except ValueError as exc:
                    errors["reporter"] = str(exc)
            if errors or project is None or itype is None:
                raise JiraApiError(400, errors=errors)
            now = self.now()
            initial = next(iter(self.statuses))
            issue = Issue(
                id=str(self._next_issue_id),
                key=f"{project.key}-{project.next_number}",
                project_key=project.key,
                issuetype_id=itype.id,
                status_id=initial,
                created=now,
                updated=now,
                status_changed=now,
                values={"labels": [], "priority": DEFAULT_PRIORITY, "creator": actor.account_id},
            )
            self._next_issue_id += 1
            project.next_number += 1
            issue.values["reporter"] = reporter
            issue.values.update(values)
            self.issues[issue.id] = issue
            self._keys[issue.key] = issue.id
            self._note(issue, actor.account_id).created = True
            if update:
                self.edit_issue(issue.key, actor, {}, update, lenient=lenient, v3=v3, bump=False)
            return issue

    def edit_issue(
        self,
        key: str,
        actor: User,
        fields: Mapping[str, Any],
        update: Mapping[str, Any] | None = None,
        *,
        lenient: bool = False,
        v3: bool = False,
        bump: bool = True,
    ) -> list[ChangeItem]:
        """Apply a PUT issue body (`fields` set, `update` operations); all or nothing."""
        with self._operation():
            issue = self.issue(key)
            new_values, errors = coercion.coerce_all(self, fields, lenient=lenient, v3=v3)
            comments: list[str] = []
            for fid, operations in (update or {}).items():
                try:
                    if fid == "comment":
                        comments.extend(coercion.comment_ops(operations, v3=v3))
                        continue
                    fd = self.field(fid) if lenient else coercion.editable(self, fid)
                    current = new_values.get(fd.id, issue.values.get(fd.id))
                    new_values[fd.id] = coercion.apply_ops(
                        self, fd, current, operations, lenient=lenient, v3=v3
                    )
                except JiraApiError as exc:
                    errors.update(exc.errors or {fid: "; ".join(exc.messages)})
                except ValueError as exc:
                    errors[fid] = str(exc)
            if errors:
                raise JiraApiError(400, errors=errors)
            items = self._store(issue, actor, new_values)
            for body in comments:
                self._add_comment(issue, actor, body)
            if bump and (items or comments):
                issue.updated = self.now()
            return items

    def add_comment(
        self,
        key: str,
        actor: User,
        body: Any,
        *,
        v3: bool = False,
        visibility: dict[str, Any] | None = None,
    ) -> Comment:
        """Add a comment (wiki markup on v2, an ADF document on v3); bumps `updated`."""
        with self._operation():
            issue = self.issue(key)
            text = coercion.comment_body(body, v3=v3)
            comment = self._add_comment(issue, actor, text, visibility)
            issue.updated = comment.created
            return comment

    def transition(
        self,
        key: str,
        actor: User,
        transition_id: Any,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        *,
        v3: bool = False,
    ) -> None:
        """Perform a transition by id, if it is open to the issue in its current status."""
        with self._operation():
            issue = self.issue(key)
            chosen = next(
                (t for t in self.available_transitions(issue) if t.id == str(transition_id)), None
            )
            if chosen is None:
                raise JiraApiError(
                    400, [f"Transition id '{transition_id}' is not valid for this issue."]
                )
            if fields or update:
                self.edit_issue(key, actor, fields or {}, update, v3=v3, bump=False)
            self._move(issue, actor, self.statuses[chosen.to_id], chosen.id)

    def set_status(self, key: str, status: str, *, by: str | None = None) -> None:
        """Move an issue to a status regardless of the workflow (control API)."""
        with self._operation():
            issue = self.issue(key)
            actor = self.user(by) if by else self.api_user()
            target = self.status_by_name(status)
            if target.id != issue.status_id:
                self._move(issue, actor, target, "")

    def set_updated(self, key: str, moment: datetime) -> None:
        """Overwrite an issue's `updated` timestamp (control API)."""
        with self.lock:
            self.issue(key).updated = moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # ---- reads -----------------------------------------------------------------------------

    def search(
        self,
        jql: str,
        actor: User,
        *,
        max_results: int,
        token: str | None,
        id_only: bool,
    ) -> SearchPage:
        """One page of the issues matching `jql`, in its order, after `token`."""
        with self.lock:
            try:
                query = parse(jql)
            except JqlError as exc:
                raise JiraApiError(400, [str(exc)]) from exc
            matches, order = compile_query(self, query, actor)
            found = order([issue for issue in self.issues.values() if matches(issue)])
            offset = self._read_token(token, jql) if token else 0
            cap = ID_ONLY_PAGE_CAP if id_only else PAGE_CAP
            size = min(max_results if max_results > 0 else 50, cap)
            page = found[offset : offset + size]
            end = offset + len(page)
            next_token = self._make_token(end, jql) if end < len(found) else None
            return SearchPage(page, next_token)

    def _make_token(self, offset: int, jql: str) -> str:
        # Opaque to clients, like Jira's; bound to the query so a token cannot be reused
        # with another one.
        raw = json.dumps({"o": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:12]})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _read_token(self, token: str, jql: str) -> int:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if data["q"] != hashlib.sha256(jql.encode()).hexdigest()[:12]:
                raise ValueError("token from another query")
            return int(data["o"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise JiraApiError(
                400, ["The provided next page token is invalid or expired."]
            ) from exc

    # ---- test-control API -------------------------------------------------------------------

    def file_issue(
        self,
        *,
        project: str,
        reporter: str,
        fields: Mapping[str, Any],
        issuetype: str = "Request",
        status: str | None = None,
        created: datetime | None = None,
    ) -> str:
        """File an issue as `reporter` (email or account id), fields by name or id."""
        # Plain values are accepted where the REST API wants objects: `"MY"` for an option,
        # an email for a user, `"High"` for a priority.
        with self._operation():
            actor = self.user(reporter)
            values = {self.field(name).id: value for name, value in fields.items()}
            values["project"] = project
            values["issuetype"] = issuetype
            issue = self.create_issue(actor, values, lenient=True)
            if created is not None:
                stamp = created.replace(microsecond=created.microsecond // 1000 * 1000)
                issue.created = issue.updated = issue.status_changed = stamp
            if status is not None:
                # Filed already in this status: no transition is logged, as none happened
                # through the API under test.
                target = self.status_by_name(status)
                issue.status_id = target.id
                if target.category is StatusCategory.DONE:
                    issue.resolution = target.resolution
                    issue.resolution_date = issue.updated
            return issue.key

    def edit_fields(self, key: str, fields: Mapping[str, Any], *, by: str | None = None) -> None:
        """Set fields (by name or id, plain values) as `by` (default: the API user)."""
        with self._operation():
            actor = self.user(by) if by else self.api_user()
            values = {self.field(name).id: value for name, value in fields.items()}
            self.edit_issue(key, actor, values, lenient=True)

    def comment_as(self, key: str, author: str, body: str) -> str:
        """Add a comment as `author` (email or account id); returns the comment id."""
        with self._operation():
            return self.add_comment(key, self.user(author), body).id

    def comment_records(self, key: str | None = None) -> list[CommentRecord]:
        """Every comment (on one issue, or on all), oldest first."""
        with self.lock:
            issues = [self.issue(key)] if key else list(self.issues.values())
            return [
                CommentRecord(
                    issue_key=issue.key,
                    id=c.id,
                    author_email=self.users[c.author_id].email,
                    author_account_id=c.author_id,
                    body=c.body,
                    created=jira_time(c.created),
                    updated=jira_time(c.updated),
                )
                for issue in issues
                for c in issue.comments
            ]

    def transition_records(self, key: str | None = None) -> list[TransitionRecord]:
        """Transitions performed (on one issue, or on all), in order."""
        with self.lock:
            return [r for r in self.transition_log if key is None or r.issue_key == key.upper()]

    def field_changes(self, key: str | None = None) -> list[FieldChange]:
        """Field changes made by edits and transitions (on one issue, or on all), in order."""
        with self.lock:
            return [r for r in self.change_log if key is None or r.issue_key == key.upper()]

    def snapshot(self, key: str) -> dict[str, Any]:
        """An issue as plain JSON-able data, fields keyed by display name."""
        with self.lock:
            issue = self.issue(key)
            return {
                "id": issue.id,
                "key": issue.key,
                "project": issue.project_key,
                "issuetype": self.issuetypes[issue.issuetype_id].name,
                "status": self.statuses[issue.status_id].name,
                "resolution": issue.resolution,
                "created": jira_time(issue.created),
                "updated": jira_time(issue.updated),
                "fields": {
                    self.fields[fid].name: self.plain_value(issue, fid) for fid in issue.values
                },
                "comments": [r.to_json() for r in self.comment_records(issue.key)],
            }

    def record(self, request: RecordedRequest) -> None:
        """Remember a received request for later assertions."""
        with self.lock:
            self.requests.append(request)

    def recorded(self) -> list[RecordedRequest]:
        """Every REST request received so far, in order."""
        with self.lock:
            return list(self.requests)

    def clear_recorded(self) -> None:
        """Forget the requests received so far."""
        with self.lock:
            self.requests.clear()

    # ---- webhooks -----------------------------------------------------------------------

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """Hold the lock for one operation; publish its webhook events once the outermost ends."""
        with self.lock:
            self._depth += 1
            completed = False
            try:
                yield
                completed = True
            finally:
                self._depth -= 1
                if self._depth == 0:
                    changes, self._changes = self._changes, {}
                    if completed:
                        self._publish(changes)

    def _note(self, issue: Issue, actor_id: str) -> Changes:
        return self._changes.setdefault(issue.id, Changes(actor_id=actor_id))

    def _publish(self, changes: dict[str, Changes]) -> None:
        if self.webhooks.url is None:
            return
        for issue_id, change in changes.items():
            for event, payload in payloads(self, self.issues[issue_id], change):
                self.webhooks.enqueue(event, payload)

    # ---- internals -------------------------------------------------------------------------

    def _add_comment(
        self, issue: Issue, actor: User, body: str, visibility: dict[str, Any] | None = None
    ) -> Comment:
        now = self.now()
        comment = Comment(
            id=str(self._next_comment_id),
            author_id=actor.account_id,
            body=body,
            created=now,
            updated=now,
            update_author_id=actor.account_id,
            visibility=visibility,
        )
        self._next_comment_id += 1
        issue.comments.append(comment)
        self._note(issue, actor.account_id).comments.append(comment)
        return comment

    def _display(self, field_id: str, value: Any) -> str | None:
        """The from/to string of a changelog item."""
        if value is None or value == []:
            return None
        fd = self.fields[field_id]
        if fd.kind in (FieldKind.OPTION, FieldKind.OPTIONS):
            ids = value if isinstance(value, list) else [value]
            return ",".join(o.value for i in ids if (o := fd.option_by(option_id=i)))
        if fd.schema_type == "user":
            return self.users[value].display_name
        if field_id == "priority":
            return self.priority_name(value)
        if isinstance(value, list):
            return " ".join(value)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def _store(self, issue: Issue, actor: User, new_values: Mapping[str, Any]) -> list[ChangeItem]:
        items: list[ChangeItem] = []
        for fid, value in new_values.items():
            old = issue.values.get(fid)
            if old == value or (old in (None, []) and value in (None, [])):
                continue
            fd = self.fields[fid]
            raw_old = old if fd.schema_type == "user" or fd.kind in (FieldKind.OPTION,) else None
            raw_new = value if fd.schema_type == "user" or fd.kind in (FieldKind.OPTION,) else None
            items.append(
                ChangeItem(
                    field_id=fid,
                    field_name=fd.name if fd.custom else fid,
                    from_value=raw_old,
                    from_string=self._display(fid, old),
                    to_value=raw_new,
                    to_string=self._display(fid, value),
                )
            )
            issue.values[fid] = value
        self._log_changes(issue, actor, items)
        return items

    def _log_changes(self, issue: Issue, actor: User, items: list[ChangeItem]) -> None:
        if not items:
            return
        now = self.now()
        issue.history.append(
            History(str(self._next_history_id), actor.account_id, now, tuple(items))
        )
        noted = self._note(issue, actor.account_id)
        noted.items.extend(items)
        noted.history_id = str(self._next_history_id)
        self._next_history_id += 1
        for item in items:
            self.change_log.append(
                FieldChange(
                    issue_key=issue.key,
                    field_id=item.field_id,
                    field_name=item.field_name,
                    old=item.from_string,
                    new=item.to_string,
                    by_email=actor.email,
                    at=jira_time(now),
                )
            )

    def _move(self, issue: Issue, actor: User, target: Status, transition_id: str) -> None:
        source = self.statuses[issue.status_id]
        now = self.now()
        items = [ChangeItem("status", "status", source.id, source.name, target.id, target.name)]
        issue.status_id = target.id
        issue.updated = now
        if source.category != target.category:
            issue.status_changed = now
        resolution = target.resolution if target.category is StatusCategory.DONE else None
        if resolution != issue.resolution:
            items.append(
                ChangeItem("resolution", "resolution", None, issue.resolution, None, resolution)
            )
            issue.resolution = resolution
            issue.resolution_date = now if resolution else None
        self._log_changes(issue, actor, items)
        self.transition_log.append(
            TransitionRecord(
                issue_key=issue.key,
                transition_id=transition_id,
                from_status=source.name,
                to_status=target.name,
                by_email=actor.email,
                at=jira_time(now),
            )
        )

    def advance_clock(self, seconds: float) -> None:
        """Move the stand-in clock forward."""
        with self.lock:
            self.clock.advance(timedelta(seconds=seconds))

    def set_clock(self, moment: datetime | None) -> None:
        """Freeze the stand-in clock at `moment`, or let it follow real time again (None)."""
        with self.lock:
            self.clock.freeze(moment)
