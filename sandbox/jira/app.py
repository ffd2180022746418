"""The Jira Cloud stand-in as a Starlette app: REST v2 (and v3, latest) plus `/_sandbox` control.

Every REST call goes through the same steps: it is recorded, may be hit by an injected
fault, is authenticated with Basic email:API-token, is handled under the state's lock, and
may have its answer held back (latency). The fault key of an operation is its method and
path template below the API root, e.g. `GET search/jql` or `POST issue/{key}/comment`.

Faults: RATE_LIMIT answers 429 with `Retry-After`; SERVER_ERROR answers its status (503
also with `Retry-After`, as Atlassian's edge does); LATENCY does the work at once and holds
the answer for `delay` seconds, so a client that times out has still changed Jira, as in
life; RESET drops the connection before the request is handled, without a response. The
drop aborts uvicorn's transport (reached through the `send` callable uvicorn hands the
app); where that is not available the stand-in answers 502, like a proxy that lost its
upstream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import Fault, FaultKind, FaultPlan
from sandbox.jira import render
from sandbox.jira.jql import JqlError, parse
from sandbox.jira.model import PRIORITIES, JiraApiError, RecordedRequest, User, jira_time
from sandbox.jira.render import View
from sandbox.jira.state import JiraState

RAW_SEND = "sandbox.raw_send"
API_VERSIONS = {"2": "2", "latest": "2", "3": "3"}
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
# What Atlassian answers to Basic auth with a wrong API token (it assumes a password).
BAD_CREDENTIALS = (
    "Basic authentication with passwords is deprecated.  For more information, see: "
    "https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/"
)
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
SEARCH_BODY_KEYS = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "reconcileIssues",
        "failFast",
    }
)


@dataclass(frozen=True)
class Call:
    """What a REST handler gets: path parameters, query, parsed body, the caller and view."""

    params: Mapping[str, str]
    query: QueryParams
    body: Any
    actor: User
    view: View


Handler = Callable[[Call], Response]


def _error(exc: JiraApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _int(query: QueryParams, name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise JiraApiError(
            400, [f"The value '{raw}' of the '{name}' parameter is not a number."]
        ) from exc


def _expand(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(x).strip() for x in raw]
    return [x.strip() for x in str(raw or "").split(",") if x.strip()]


class JiraApi:
    """The REST handlers, bound to one state and one fault plan."""

    def __init__(self, state: JiraState, faults: FaultPlan) -> None:
        self.state = state
        self.faults = faults

    # ---- pipeline ---------------------------------------------------------------------------

    def route(
        self, method: str, template: str, handler: Handler, *, anonymous: bool = False
    ) -> Route:
        """A Starlette route serving `template` below `/rest/api/{version}/`."""
        endpoint = _Endpoint(self, method, template, handler, anonymous=anonymous)
        return Route(f"/rest/api/{{api_version}}/{template}", endpoint, methods=[method])

    def view(self, request: Request, version: str, actor: User | None) -> View:
        """How responses to this request link and tell time."""
        base = self.state.base_url or str(request.base_url).rstrip("/")
        zone = ZoneInfo(actor.time_zone if actor else "UTC")
        return View(base=base, version=version, zone=zone)

    def authenticate(self, request: Request) -> User | Response:
        """The calling user, or the 401 Jira Cloud answers."""
        header = request.headers.get("authorization")
        if not header:
            return PlainTextResponse(
                NOT_AUTHENTICATED, 401, headers={"WWW-Authenticate": 'Basic realm="protected-area"'}
            )
        scheme, _, credentials = header.partition(" ")
        user: User | None = None
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                email, token = "", ""
            user = self.state.authenticate(email, token)
        if user is None:
            return PlainTextResponse(
                BAD_CREDENTIALS,
                401,
                headers={
                    "WWW-Authenticate": 'Basic realm="protected-area"',
                    "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                },
            )
        return user

    def fault_response(self, fault: Fault) -> Response:
        """The response an injected 429 or 5xx fault gives."""
        if fault.kind is FaultKind.RATE_LIMIT:
            return JSONResponse(
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                status_code=429,
                headers={
                    "Retry-After": str(fault.retry_after),
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "RateLimit-Reason": "jira-burst-based",
                },
            )
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 503 else {}
        return JSONResponse(
            {"errorMessages": ["Internal server error (injected by the sandbox)."], "errors": {}},
            status_code=fault.status,
            headers=headers,
        )

    # ---- REST handlers ---------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """Every REST route of the stand-in."""
        r = self.route
        return [
            r("GET", "serverInfo", self.server_info, anonymous=True),
            r("GET", "myself", self.myself),
            r("GET", "field", self.fields),
            r("GET", "search/jql", self.search_get),
            r("POST", "search/jql", self.search_post),
            r("GET", "search", self.search_removed),
            r("POST", "search", self.search_removed),
            r("POST", "issue", self.create_issue),
            r("GET", "issue/{key}", self.get_issue),
            r("PUT", "issue/{key}", self.edit_issue),
            r("GET", "issue/{key}/comment", self.list_comments),
            r("POST", "issue/{key}/comment", self.add_comment),
            r("GET", "issue/{key}/comment/{id}", self.get_comment),
            r("GET", "issue/{key}/transitions", self.list_transitions),
            r("POST", "issue/{key}/transitions", self.do_transition),
            r("GET", "user", self.get_user),
            r("GET", "user/search", self.search_users),
            r("GET", "project/{key}", self.get_project),
            r("GET", "issuetype", self.issue_types),
            r("GET", "priority", self.priorities),
            r("GET", "status", self.statuses),
        ]

    def server_info(self, call: Call) -> Response:
        """GET serverInfo (anonymous on Cloud)."""
        return JSONResponse(render.server_info(self.state, call.view))

    def myself(self, call: Call) -> Response:
        """GET myself: the API user, with the time zone JQL dates are read in."""
        return JSONResponse(render.full_user(call.view, call.actor))

    def fields(self, call: Call) -> Response:
        """GET field: system and custom fields."""
        return JSONResponse(render.field_list(self.state))

    def search_get(self, call: Call) -> Response:
        """GET search/jql."""
        q = call.query
        return self._search(
            call,
            jql=q.get("jql", ""),
            fields=q.getlist("fields"),
            expand=_expand(q.get("expand")),
            max_results=_int(q, "maxResults", 50),
            token=q.get("nextPageToken") or None,
        )

    def search_post(self, call: Call) -> Response:
        """POST search/jql; the client sends nulls for expand/properties, which Jira accepts."""
        body = call.body if isinstance(call.body, dict) else {}
        unknown = sorted(set(body) - SEARCH_BODY_KEYS)
        if unknown:
            raise JiraApiError(400, [f'Unrecognized field "{unknown[0]}"'])
        fields = body.get("fields") or []
        max_results = body.get("maxResults")
        if max_results is not None and (
            isinstance(max_results, bool) or not isinstance(max_results, int)
        ):
            raise JiraApiError(400, ["maxResults must be a number."])
        return self._search(
            call,
            jql=body.get("jql") or "",
            fields=[str(f) for f in fields],
            expand=_expand(body.get("expand")),
            max_results=50 if max_results is None else int(max_results),
            token=body.get("nextPageToken") or None,
        )

    def _search(
        self,
        call: Call,
        *,
        jql: str,
        fields: list[str],
        expand: list[str],
        max_results: int,
        token: str | None,
    ) -> Response:
        try:
            bounded = parse(jql).where is not None
        except JqlError as exc:
            raise JiraApiError(400, [str(exc)]) from exc
        if not bounded:
            # The enhanced search refuses queries that would scan every issue.
            raise JiraApiError(
                400,
                [
                    "Unbounded JQL queries are not allowed here. "
                    "Please add a search restriction to your query."
                ],
            )
        selected = render.select_fields(self.state, fields, "id")
        only_ids = selected is None or set(selected) <= {"id", "key"}
        page = self.state.search(
            jql, call.actor, max_results=max_results, token=token, id_only=only_ids
        )
        body: dict[str, Any] = {
            "issues": [
                render.issue(self.state, call.view, i, selected, expand) for i in page.issues
            ]
        }
        if page.next_token:
            body["nextPageToken"] = page.next_token
        body["isLast"] = page.next_token is None
        return JSONResponse(body)

    def search_removed(self, call: Call) -> Response:
        """GET/POST search: removed on Cloud, 410 Gone."""
        return JSONResponse({"errorMessages": [SEARCH_REMOVED], "errors": {}}, status_code=410)

    def create_issue(self, call: Call) -> Response:
        """POST issue: 201 with id, key and self."""
        body = call.body if isinstance(call.body, dict) else {}
        issue = self.state.create_issue(
            call.actor, body.get("fields") or {}, body.get("update"), v3=call.view.v3
        )
        return JSONResponse(
            {"id": issue.id, "key": issue.key, "self": f"{call.view.api}/issue/{issue.id}"},
            status_code=201,
        )

    def get_issue(self, call: Call) -> Response:
        """GET issue/{key}; all fields unless `fields` narrows them."""
        issue = self.state.issue(call.params["key"])
        selected = render.select_fields(self.state, call.query.getlist("fields"), "*all") or []
        expand = _expand(call.query.get("expand"))
        return JSONResponse(render.issue(self.state, call.view, issue, selected, expand))

    def edit_issue(self, call: Call) -> Response:
        """PUT issue/{key}: 204, or 200 with the issue when `returnIssue=true`."""
        body = call.body if isinstance(call.body, dict) else {}
        self.state.edit_issue(
            call.params["key"],
            call.actor,
            body.get("fields") or {},
            body.get("update"),
            v3=call.view.v3,
        )
        if call.query.get("returnIssue") == "true":
            issue = self.state.issue(call.params["key"])
            selected = render.select_fields(self.state, [], "*all") or []
            return JSONResponse(render.issue(self.state, call.view, issue, selected))
        return Response(status_code=204)

    def list_comments(self, call: Call) -> Response:
        """GET issue/{key}/comment (PageOfComments)."""
        issue = self.state.issue(call.params["key"])
        return JSONResponse(
            render.comments_page(
                self.state,
                call.view,
                issue,
                start_at=max(0, _int(call.query, "startAt", 0)),
                max_results=max(1, _int(call.query, "maxResults", 100)),
                newest_first=call.query.get("orderBy") == "-created",
            )
        )

    def add_comment(self, call: Call) -> Response:
        """POST issue/{key}/comment: 201 with the comment, authored by the caller."""
        body = call.body if isinstance(call.body, dict) else {}
        issue = self.state.issue(call.params["key"])
        comment = self.state.add_comment(
            issue.key,
            call.actor,
            body.get("body"),
            v3=call.view.v3,
            visibility=body.get("visibility"),
        )
        return JSONResponse(render.comment(self.state, call.view, issue, comment), status_code=201)

    def get_comment(self, call: Call) -> Response:
        """GET issue/{key}/comment/{id}."""
        issue = self.state.issue(call.params["key"])
        for comment in issue.comments:
            if comment.id == call.params["id"]:
                return JSONResponse(render.comment(self.state, call.view, issue, comment))
        raise JiraApiError(404, [f"Can not find a comment for the id: {call.params['id']}."])

    def list_transitions(self, call: Call) -> Response:
        """GET issue/{key}/transitions: those open from the current status."""
        issue = self.state.issue(call.params["key"])
        only = call.query.get("transitionId")
        return JSONResponse(render.transitions(self.state, call.view, issue, only))

    def do_transition(self, call: Call) -> Response:
        """POST issue/{key}/transitions: 204, or 400 if the id is not open to the issue."""
        body = call.body if isinstance(call.body, dict) else {}
        transition = body.get("transition")
        tid = transition.get("id") if isinstance(transition, dict) else None
        if tid is None:
            raise JiraApiError(400, ["Can not perform transition: no transition id specified."])
        self.state.transition(
            call.params["key"],
            call.actor,
            tid,
            body.get("fields") or {},
            body.get("update"),
            v3=call.view.v3,
        )
        return Response(status_code=204)

    def get_user(self, call: Call) -> Response:
        """GET user?accountId=."""
        account_id = call.query.get("accountId")
        if not account_id:
            raise JiraApiError(400, ["The query parameter 'accountId' is required."])
        user = self.state.users.get(account_id)
        if user is None:
            raise JiraApiError(
                404, ["Specified user does not exist or you do not have required permissions"]
            )
        return JSONResponse(render.full_user(call.view, user))

    def search_users(self, call: Call) -> Response:
        """GET user/search?query= or ?accountId=: active users only, as Jira Cloud answers.

        `query` matches the start of a display name (or of a word in it) or of an email; an
        email its owner hides matches only the whole address, and the answer leaves it out.
        """
        query = (call.query.get("query") or "").strip().casefold()
        account_id = call.query.get("accountId")
        if not query and not account_id:
            raise JiraApiError(400, ["The query parameter 'query' or 'accountId' is required."])
        found = [
            u
            for u in self.state.users.values()
            if u.active
            and ((account_id and u.account_id == account_id) or (query and _user_matches(u, query)))
        ]
        start = _int(call.query, "startAt", 0)
        size = _int(call.query, "maxResults", 50)
        return JSONResponse([render.user(call.view, u) for u in found[start : start + size]])

    def get_project(self, call: Call) -> Response:
        """GET project/{key}."""
        ref = call.params["key"].upper()
        for project in self.state.projects.values():
            if ref in (project.key, project.id):
                return JSONResponse(render.full_project(self.state, call.view, project))
        raise JiraApiError(404, [f"No project could be found with key '{call.params['key']}'."])

    def issue_types(self, call: Call) -> Response:
        """GET issuetype."""
        return JSONResponse(
            [render.issuetype(call.view, t) for t in self.state.issuetypes.values()]
        )

    def priorities(self, call: Call) -> Response:
        """GET priority."""
        return JSONResponse([render.priority(call.view, pid, name) for pid, name in PRIORITIES])

    def statuses(self, call: Call) -> Response:
        """GET status."""
        return JSONResponse([render.status(call.view, s) for s in self.state.statuses.values()])


class _Endpoint:
    """A raw ASGI endpoint, so a RESET fault can reach the connection itself."""

    def __init__(
        self, api: JiraApi, method: str, template: str, handler: Handler, *, anonymous: bool
    ) -> None:
        self.api = api
        self.operation = f"{method} {template}"
        self.handler = handler
        self.anonymous = anonymous

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        record = RecordedRequest(
            method=request.method,
            operation=self.operation,
            path=request.url.path,
            query=request.url.query,
            body=_parse_body(raw),
            account_id=None,
            at=jira_time(self.api.state.now()),
        )
        self.api.state.record(record)
        response, delay = await self._respond(scope, request, raw, record)
        if response is None:
            return
        if delay:
            await asyncio.sleep(delay)
        record.status = response.status_code
        await response(scope, receive, send)

    async def _respond(
        self, scope: Scope, request: Request, raw: bytes, record: RecordedRequest
    ) -> tuple[Response | None, float]:
        version = API_VERSIONS.get(request.path_params.get("api_version", ""))
        if version is None:
            return _unknown_resource(request), 0.0
        fault = self.api.faults.take(self.operation)
        if fault is not None:
            record.fault = fault.kind.value
            if fault.kind is FaultKind.RESET:
                if await _drop_connection(scope):
                    return None, 0.0
                return PlainTextResponse("Bad Gateway", 502), 0.0
            if fault.kind is not FaultKind.LATENCY:
                return self.api.fault_response(fault), 0.0
        delay = fault.delay if fault is not None else 0.0
        actor: User | None = None
        outcome = self.api.authenticate(request)
        if isinstance(outcome, Response):
            # Anonymous resources (serverInfo) answer even to wrong credentials, as on
            # Cloud: a client with a bad token only fails at its first real call.
            if not self.anonymous:
                return outcome, delay
        else:
            actor = outcome
            record.account_id = actor.account_id
        body = record.body
        if raw and not isinstance(body, dict | list):
            return _error(JiraApiError(400, ["Unexpected character in the JSON body."])), delay
        params = {k: v for k, v in request.path_params.items() if k != "api_version"}
        with self.api.state.lock:
            caller = actor or self.api.state.api_user()
            call = Call(
                params, request.query_params, body, caller, self.api.view(request, version, actor)
            )
            try:
                return self.handler(call), delay
            except JiraApiError as exc:
                return _error(exc), delay


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _unknown_resource(request: Request) -> Response:
    return JSONResponse(
        {"message": f"null for uri: {request.url}", "status-code": 404}, status_code=404
    )


async def _drop_connection(scope: Scope) -> bool:
    """Abort the TCP connection under this request; False if the server does not let us."""
    raw_send = scope.get(RAW_SEND)
    transport = _transport(raw_send) if raw_send is not None else None
    if transport is None or not hasattr(transport, "abort"):
        return False
    transport.abort()
    # Let uvicorn see the connection is gone before the endpoint returns, so it does not
    # try to answer 500 on a dead socket.
    await asyncio.sleep(0)
    return True


def _transport(send: Send) -> Any:
    """uvicorn's transport behind its `send` callable, or None under another server."""
    return getattr(getattr(send, "__self__", None), "transport", None)


class _KeepRawSend:
    """Outermost ASGI layer: remember the server's own `send` for RESET faults.

    It also turns on TCP_NODELAY: `sandbox.server.bind_loopback` creates its socket with
    protocol 0, so asyncio skips its usual TCP_NODELAY and every response (headers and body
    are separate writes) stalls ~40 ms on delayed ACKs. Harmless once that is fixed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
            transport = _transport(send)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await self.app(scope, receive, send)


def _catch_all(state: JiraState) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state.record(
            RecordedRequest(
                method=request.method,
                operation=f"{request.method} ?",
                path=request.url.path,
                query=request.url.query,
                body=_parse_body(await request.body()),
                account_id=None,
                at=jira_time(state.now()),
                status=404,
            )
        )
        return _unknown_resource(request)

    return endpoint


def _browse(state: JiraState) -> Callable[[Request], Awaitable[Response]]:
    """`/browse/KEY`, where govflow's links point: the console's ticket page, or a plain page."""

    async def endpoint(request: Request) -> Response:
        key = request.path_params["key"].upper()
        if state.console_url:
            return RedirectResponse(f"{state.console_url}/jira/{quote(key)}", status_code=302)
        try:
            snap = state.snapshot(key)
        except JiraApiError:
            return HTMLResponse(f"<h1>{escape(key)}</h1><p>No such issue.</p>", status_code=404)
        summary = escape(str(snap["fields"].get("Summary") or ""))
        return HTMLResponse(
            f"<h1>{escape(key)}: {summary}</h1><p>Status: {escape(snap['status'])}</p>"
            "<p>Start the sandbox console (<code>govflow serve</code> does) to see the ticket.</p>"
        )

    return endpoint


def create_jira_app(
    state: JiraState,
    faults: FaultPlan | None = None,
    *,
    control_routes: list[BaseRoute] | None = None,
) -> ASGIApp:
    """The stand-in ASGI app over `state`, with `faults` applied to REST calls."""
    from sandbox.jira.control import control_routes as default_control_routes

    api = JiraApi(state, faults or FaultPlan())
    routes: list[BaseRoute] = [
        *(
            control_routes
            if control_routes is not None
            else default_control_routes(state, api.faults)
        ),
        *api.routes(),
        Route("/browse/{key}", _browse(state), methods=["GET"]),
        Route(
            "/{path:path}",
            _catch_all(state),
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        ),
    ]
    return _KeepRawSend(Starlette(routes=routes))


def _user_matches(user: User, query: str) -> bool:
    """Whether Jira Cloud's user search finds `user` for a (casefolded) `query`."""
    email = user.email.casefold()
    if email.startswith(query) if user.email_visible else email == query:
        return True
    name = user.display_name.casefold()
    return name.startswith(query) or any(word.startswith(query) for word in name.split())
