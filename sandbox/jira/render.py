"""Render the stand-in's entities as Jira Cloud's JSON, for v2 (wiki markup) or v3 (ADF).

Callers hold the state's lock while rendering, so one response is one consistent snapshot.
Shapes follow Jira Cloud's responses and stay inside the published OpenAPI schemas, which
forbid extra properties on most objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from sandbox.jira import adf
from sandbox.jira.model import (
    CATEGORY_INFO,
    CUSTOM_SCHEMAS,
    RESOLUTIONS,
    Comment,
    FieldDef,
    FieldKind,
    Issue,
    IssueType,
    Option,
    Project,
    Status,
    User,
    jira_time,
)
from sandbox.jira.tables import JiraTables

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
# System fields an issue's `fields` carries, in Jira's habitual order.
RENDERED_SYSTEM = (
    "summary",
    "description",
    "issuetype",
    "project",
    "status",
    "priority",
    "reporter",
    "creator",
    "assignee",
    "labels",
    "duedate",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "comment",
)
BUILD_DATE = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class View:
    """Who is looking and how: base URL, API version ("2" or "3"), and their time zone."""

    base: str
    version: str
    zone: tzinfo

    @property
    def api(self) -> str:
        """The REST root that `self` links point into."""
        return f"{self.base}/rest/api/{self.version}"

    @property
    def v3(self) -> bool:
        """Whether rich text goes out as ADF."""
        return self.version == "3"

    def time(self, moment: datetime | None) -> str | None:
        """A timestamp in Jira's format and the viewer's zone."""
        return jira_time(moment, self.zone) if moment else None

    def rich(self, text: str | None) -> Any:
        """A rich-text value: the wiki-markup string on v2, an ADF document on v3."""
        if text is None:
            return None
        return adf.from_text(text) if self.v3 else text


def avatar_urls(view: View, owner: str) -> dict[str, str]:
    """Avatar links in the four sizes Jira lists."""
    return {
        f"{n}x{n}": f"{view.base}/secure/useravatar?size={n}&ownerId={quote(owner)}"
        for n in (48, 24, 16, 32)
    }


def user(view: View, who: User) -> dict[str, Any]:
    """A user as embedded in issues and comments (UserDetails)."""
    body: dict[str, Any] = {
        "self": f"{view.api}/user?accountId={quote(who.account_id)}",
        "accountId": who.account_id,
        "accountType": "atlassian",
    }
    if who.email_visible:
        body["emailAddress"] = who.email
    body.update(
        avatarUrls=avatar_urls(view, who.account_id),
        displayName=who.display_name,
        active=who.active,
        timeZone=who.time_zone,
    )
    return body


def full_user(view: View, who: User) -> dict[str, Any]:
    """A user as `GET user` and `GET myself` return it."""
    return {
        **user(view, who),
        "locale": "en_US",
        "groups": {"size": 1, "items": []},
        "applicationRoles": {"size": 1, "items": []},
        "expand": "groups,applicationRoles",
    }


def status(view: View, st: Status) -> dict[str, Any]:
    """A status with its category."""
    cid, cname, colour = CATEGORY_INFO[st.category]
    return {
        "self": f"{view.api}/status/{st.id}",
        "description": "",
        "iconUrl": f"{view.base}/images/icons/statuses/generic.png",
        "name": st.name,
        "id": st.id,
        "statusCategory": {
            "self": f"{view.api}/statuscategory/{cid}",
            "id": cid,
            "key": st.category.value,
            "colorName": colour,
            "name": cname,
        },
    }


def priority(view: View, pid: str, name: str) -> dict[str, Any]:
    """A priority."""
    return {
        "self": f"{view.api}/priority/{pid}",
        "iconUrl": f"{view.base}/images/icons/priorities/{name.lower()}.svg",
        "name": name,
        "id": pid,
    }


def issuetype(view: View, itype: IssueType) -> dict[str, Any]:
    """An issue type (IssueTypeDetails)."""
    return {
        "self": f"{view.api}/issuetype/{itype.id}",
        "id": itype.id,
        "description": itype.description,
        "iconUrl": f"{view.base}/images/icons/issuetypes/task.svg",
        "name": itype.name,
        "subtask": False,
        "avatarId": 10318,
        "hierarchyLevel": 0,
    }


def project(view: View, proj: Project) -> dict[str, Any]:
    """A project as embedded in an issue."""
    return {
        "self": f"{view.api}/project/{proj.id}",
        "id": proj.id,
        "key": proj.key,
        "name": proj.name,
        "projectTypeKey": "business",
        "simplified": False,
        "avatarUrls": avatar_urls(view, proj.key),
    }


def full_project(state: JiraTables, view: View, proj: Project) -> dict[str, Any]:
    """A project as `GET project/{key}` returns it, with its issue types."""
    body = {
        **project(view, proj),
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "description": "",
        "issueTypes": [issuetype(view, t) for t in state.issuetypes.values()],
        "assigneeType": "UNASSIGNED",
        "style": "classic",
        "isPrivate": False,
    }
    if proj.lead_account_id:
        body["lead"] = user(view, state.users[proj.lead_account_id])
    return body


def option(view: View, opt: Option) -> dict[str, Any]:
    """A select-field option value."""
    return {"self": f"{view.api}/customFieldOption/{opt.id}", "value": opt.value, "id": opt.id}


def comment(state: JiraTables, view: View, issue: Issue, c: Comment) -> dict[str, Any]:
    """A comment; the body is wiki markup on v2 and ADF on v3."""
    body: dict[str, Any] = {
        "self": f"{view.api}/issue/{issue.id}/comment/{c.id}",
        "id": c.id,
        "author": user(view, state.users[c.author_id]),
        "body": view.rich(c.body),
        "updateAuthor": user(view, state.users[c.update_author_id]),
        "created": view.time(c.created),
        "updated": view.time(c.updated),
        "jsdPublic": True,
    }
    if c.visibility:
        body["visibility"] = c.visibility
    return body


def comments_page(
    state: JiraTables,
    view: View,
    issue: Issue,
    *,
    start_at: int = 0,
    max_results: int = 5000,
    newest_first: bool = False,
) -> dict[str, Any]:
    """A page of an issue's comments (PageOfComments)."""
    ordered = list(reversed(issue.comments)) if newest_first else issue.comments
    page = ordered[start_at : start_at + max_results]
    return {
        "startAt": start_at,
        "maxResults": max_results,
        "total": len(issue.comments),
        "comments": [comment(state, view, issue, c) for c in page],
    }


def resolution(view: View, name: str | None) -> dict[str, Any] | None:
    """A resolution, or None while unresolved."""
    if name is None:
        return None
    rid = next(i for i, n in RESOLUTIONS if n == name)
    return {"self": f"{view.api}/resolution/{rid}", "id": rid, "description": "", "name": name}


def field_value(state: JiraTables, view: View, issue: Issue, fid: str) -> Any:
    """One field of an issue as Jira renders it."""
    fd = state.fields[fid]
    fixed: dict[str, Callable[[], Any]] = {
        "issuetype": lambda: issuetype(view, state.issuetypes[issue.issuetype_id]),
        "project": lambda: project(view, state.projects[issue.project_key]),
        "status": lambda: status(view, state.statuses[issue.status_id]),
        "created": lambda: view.time(issue.created),
        "updated": lambda: view.time(issue.updated),
        "resolution": lambda: resolution(view, issue.resolution),
        "resolutiondate": lambda: view.time(issue.resolution_date),
        "statuscategorychangedate": lambda: view.time(issue.status_changed),
        "comment": lambda: {
            **comments_page(state, view, issue),
            "self": f"{view.api}/issue/{issue.id}/comment",
        },
    }
    if fid in fixed:
        return fixed[fid]()
    value = issue.values.get(fid)
    if value is None:
        return [] if fid == "labels" or fd.schema_type == "array" else None
    if fid == "priority":
        return priority(view, value, state.priority_name(value))
    if fd.schema_type == "user":
        return user(view, state.users[value])
    if fid == "description" or fd.kind is FieldKind.TEXTAREA:
        return view.rich(value)
    if fd.kind in (FieldKind.OPTION, FieldKind.OPTIONS):
        ids = value if isinstance(value, list) else [value]
        rendered = [option(view, o) for i in ids if (o := fd.option_by(option_id=i))]
        return rendered if fd.kind is FieldKind.OPTIONS else rendered[0]
    return list(value) if isinstance(value, list) else value


def renderable(state: JiraTables) -> list[str]:
    """Every field id an issue's `fields` can carry."""
    return [*RENDERED_SYSTEM, *(fid for fid, fd in state.fields.items() if fd.custom)]


def select_fields(state: JiraTables, tokens: Iterable[str], default: str) -> list[str] | None:
    """The field ids a `fields` parameter asks for; None means "ids only" (search default)."""
    # Repeated parameters and comma-separated lists, `*all`, `*navigable`, field ids and
    # `-field` exclusions; unknown ids are ignored, as Jira does.
    wanted = [t.strip() for token in tokens for t in token.split(",") if t.strip()] or [default]
    if all(t == "id" for t in wanted):
        return None
    every = renderable(state)
    navigable = [f for f in every if state.fields[f].navigable]
    chosen: set[str] = set()
    excluded = {t[1:] for t in wanted if t.startswith("-")}
    for token in wanted:
        if token == "*all":
            chosen.update(every)
        elif token == "*navigable":
            chosen.update(navigable)
        elif token in every:
            chosen.add(token)
    if not chosen and excluded:
        chosen.update(navigable)
    return [f for f in every if f in chosen and f not in excluded]


def schema(fd: FieldDef) -> dict[str, Any] | None:
    """A field's JsonTypeBean, or None for fields Jira lists without one."""
    if not fd.schema_type:
        return None
    body: dict[str, Any] = {"type": fd.schema_type}
    if fd.items:
        body["items"] = fd.items
    if fd.kind is not None:
        suffix = CUSTOM_SCHEMAS[fd.kind][2]
        body["custom"] = f"com.atlassian.jira.plugin.system.customfieldtypes:{suffix}"
        body["customId"] = fd.numeric_id
    else:
        body["system"] = fd.system or fd.id
    return body


def field_list(state: JiraTables) -> list[dict[str, Any]]:
    """`GET field`: every system and custom field."""
    out: list[dict[str, Any]] = []
    for fd in state.fields.values():
        entry: dict[str, Any] = {
            "id": fd.id,
            "key": fd.id,
            "name": fd.name,
            "custom": fd.custom,
            "orderable": fd.orderable,
            "navigable": fd.navigable,
            "searchable": fd.searchable,
            "clauseNames": list(fd.clause_names),
        }
        if (body := schema(fd)) is not None:
            entry["schema"] = body
        out.append(entry)
    return out


def changelog(state: JiraTables, view: View, issue: Issue) -> dict[str, Any]:
    """An issue's change history, as `expand=changelog` adds it."""
    histories = [
        {
            "id": h.id,
            "author": user(view, state.users[h.author_id]),
            "created": view.time(h.created),
            "items": [
                {
                    "field": item.field_name,
                    "fieldtype": "custom" if item.field_id.startswith("customfield_") else "jira",
                    "fieldId": item.field_id,
                    "from": item.from_value,
                    "fromString": item.from_string or "",
                    "to": item.to_value,
                    "toString": item.to_string or "",
                }
                for item in h.items
            ],
        }
        for h in issue.history
    ]
    return {
        "startAt": 0,
        "maxResults": len(histories),
        "total": len(histories),
        "histories": histories,
    }


def transitions(
    state: JiraTables, view: View, issue: Issue, only: str | None = None
) -> dict[str, Any]:
    """The transitions open to an issue now (Transitions)."""
    return {
        "expand": "transitions",
        "transitions": [
            {
                "id": t.id,
                "name": t.name,
                "to": status(view, state.statuses[t.to_id]),
                "hasScreen": False,
                "isGlobal": t.from_ids is None,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "looped": False,
            }
            for t in state.available_transitions(issue)
            if only is None or t.id == only
        ],
    }


def issue(
    state: JiraTables,
    view: View,
    item: Issue,
    fields: list[str] | None,
    expand: Iterable[str] = (),
) -> dict[str, Any]:
    """An issue (IssueBean); `fields` None renders the id-only form search/jql defaults to."""
    if fields is None:
        return {"id": item.id}
    expands = set(expand)
    body: dict[str, Any] = {
        "expand": ISSUE_EXPAND,
        "id": item.id,
        "self": f"{view.api}/issue/{item.id}",
        "key": item.key,
    }
    if "transitions" in expands:
        body["transitions"] = transitions(state, view, item)["transitions"]
    if "changelog" in expands:
        body["changelog"] = changelog(state, view, item)
    if "names" in expands:
        body["names"] = {f: state.fields[f].name for f in fields}
    if "schema" in expands:
        body["schema"] = {f: s for f in fields if (s := schema(state.fields[f])) is not None}
    body["fields"] = {f: field_value(state, view, item, f) for f in fields}
    return body


def server_info(state: JiraTables, view: View) -> dict[str, Any]:
    """`GET serverInfo`, with the Cloud deployment type the client keys its behaviour on."""
    return {
        "baseUrl": view.base,
        "displayUrl": view.base,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100300,
        "buildDate": view.time(BUILD_DATE),
        "serverTime": view.time(state.now()),
        "scmInfo": "govflow-sandbox",
        "serverTitle": "Jira (govflow sandbox)",
    }
