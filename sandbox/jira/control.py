"""Test control of the Jira stand-in: the `/_sandbox/...` HTTP routes and a client for them.

The same operations exist in-process on `JiraSandbox` and over HTTP through
`RemoteJiraSandbox`, so a test can drive a stand-in that runs as its own process (as
`govflow serve` starts it) exactly as it drives one in a thread. Control calls are never
authenticated, recorded or faulted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import Fault, FaultKind, FaultPlan
from sandbox.jira.model import (
    CommentRecord,
    FieldChange,
    FieldKind,
    JiraApiError,
    RecordedRequest,
    TransitionRecord,
    jira_time,
    parse_jira_time,
)
from sandbox.jira.state import JiraState
from sandbox.jira.webhooks import WebhookDelivery

ControlHandler = Callable[[dict[str, Any], Mapping[str, str], Mapping[str, str]], Any]


class JiraSandboxControl(Protocol):
    """What a test can do to a Jira stand-in, wherever it runs."""

    def file_issue(
        self,
        *,
        reporter: str,
        fields: Mapping[str, Any],
        project: str = ...,
        issuetype: str = ...,
        status: str | None = ...,
        created: datetime | None = ...,
    ) -> str:
        """File an issue as `reporter`; returns its key."""

    def edit_fields(self, key: str, fields: Mapping[str, Any], *, by: str | None = ...) -> None:
        """Set fields as `by` (default: the API user), bumping `updated`."""

    def comment_as(self, key: str, author: str, body: str) -> str:
        """Comment as `author`; returns the comment id."""

    def set_status(self, key: str, status: str, *, by: str | None = ...) -> None:
        """Move an issue to a status regardless of the workflow."""

    def set_updated(self, key: str, moment: datetime) -> None:
        """Overwrite an issue's `updated`."""

    def set_clock(self, moment: datetime | None) -> None:
        """Freeze the stand-in clock, or unfreeze it (None)."""

    def advance_clock(self, seconds: float) -> None:
        """Move the stand-in clock forward."""

    def snapshot(self, key: str) -> dict[str, Any]:
        """An issue as plain data (fields by display name, comments)."""

    def comments(self, key: str | None = ...) -> list[CommentRecord]:
        """Comments written (on one issue or all)."""

    def transitions_done(self, key: str | None = ...) -> list[TransitionRecord]:
        """Transitions performed (on one issue or all)."""

    def field_changes(self, key: str | None = ...) -> list[FieldChange]:
        """Field changes made (on one issue or all)."""

    def requests(self) -> list[RecordedRequest]:
        """Every REST request received."""

    def clear_requests(self) -> None:
        """Forget the requests received so far."""

    def add_fault(self, operation: str, fault: Fault, times: int = ...) -> None:
        """Fail the next `times` calls of `operation` ("GET search/jql", "*")."""

    def clear_faults(self) -> None:
        """Drop every queued fault."""


# ---- server side --------------------------------------------------------------------------


def _fault_from(body: Mapping[str, Any]) -> Fault:
    return Fault(
        kind=FaultKind(body["kind"]),
        status=int(body.get("status", 503)),
        retry_after=int(body.get("retry_after", 1)),
        delay=float(body.get("delay", 0.0)),
    )


def _moment(raw: Any) -> datetime | None:
    return parse_jira_time(str(raw)) if raw else None


def control_routes(state: JiraState, faults: FaultPlan) -> list[BaseRoute]:
    """The `/_sandbox/...` routes over `state` and `faults`."""
    from sandbox.jira.seed import seed_examples

    def issues_post(body: dict[str, Any], _: Mapping[str, str], __: Mapping[str, str]) -> Any:
        key = state.file_issue(
            project=body.get("project", "MODREQ"),
            reporter=body["reporter"],
            fields=body.get("fields") or {},
            issuetype=body.get("issuetype", "Request"),
            status=body.get("status"),
            created=_moment(body.get("created")),
        )
        return {"key": key}

    def issue_get(_: dict[str, Any], p: Mapping[str, str], __: Mapping[str, str]) -> Any:
        return state.snapshot(p["key"])

    def issues_get(*_: Any) -> Any:
        with state.lock:
            keys = list(state.issues)
        return [state.snapshot(key) for key in reversed(keys)]

    def users_get(*_: Any) -> Any:
        with state.lock:
            people = list(state.users.values())
        return [
            {"account_id": u.account_id, "email": u.email, "display_name": u.display_name}
            for u in people
        ]

    def console_put(body: dict[str, Any], *_: Any) -> Any:
        state.console_url = body.get("url") or None
        return {}

    def fields_put(body: dict[str, Any], p: Mapping[str, str], __: Mapping[str, str]) -> Any:
        state.edit_fields(p["key"], body.get("fields") or {}, by=body.get("by"))
        return {}

    def comment_post(body: dict[str, Any], p: Mapping[str, str], __: Mapping[str, str]) -> Any:
        return {"id": state.comment_as(p["key"], body["author"], body["body"])}

    def status_put(body: dict[str, Any], p: Mapping[str, str], __: Mapping[str, str]) -> Any:
        state.set_status(p["key"], body["status"], by=body.get("by"))
        return {}

    def updated_put(body: dict[str, Any], p: Mapping[str, str], __: Mapping[str, str]) -> Any:
        state.set_updated(p["key"], parse_jira_time(body["updated"]))
        return {}

    def comments_get(_: dict[str, Any], __: Mapping[str, str], q: Mapping[str, str]) -> Any:
        return [r.to_json() for r in state.comment_records(q.get("key"))]

    def transitions_get(_: dict[str, Any], __: Mapping[str, str], q: Mapping[str, str]) -> Any:
        return [r.to_json() for r in state.transition_records(q.get("key"))]

    def changes_get(_: dict[str, Any], __: Mapping[str, str], q: Mapping[str, str]) -> Any:
        return [r.to_json() for r in state.field_changes(q.get("key"))]

    def requests_get(*_: Any) -> Any:
        return [r.to_json() for r in state.recorded()]

    def requests_delete(*_: Any) -> Any:
        state.clear_recorded()
        return {}

    def faults_post(body: dict[str, Any], *_: Any) -> Any:
        faults.add(body["operation"], _fault_from(body), int(body.get("times", 1)))
        return {}

    def faults_delete(*_: Any) -> Any:
        faults.clear()
        return {}

    def clock_get(*_: Any) -> Any:
        return {"now": jira_time(state.now())}

    def clock_post(body: dict[str, Any], *_: Any) -> Any:
        if "advance_seconds" in body:
            state.advance_clock(float(body["advance_seconds"]))
        else:
            state.set_clock(_moment(body.get("now")))
        return {"now": jira_time(state.now())}

    def users_post(body: dict[str, Any], *_: Any) -> Any:
        user = state.add_user(
            body["email"],
            body.get("display_name", body["email"]),
            api_token=body.get("api_token"),
            time_zone=body.get("time_zone", "UTC"),
            email_visible=bool(body.get("email_visible", True)),
        )
        return {"account_id": user.account_id}

    def projects_post(body: dict[str, Any], *_: Any) -> Any:
        return {"id": state.add_project(body["key"], body.get("name", body["key"])).id}

    def fields_post(body: dict[str, Any], *_: Any) -> Any:
        fd = state.add_custom_field(
            body["name"], FieldKind(body["kind"]), options=body.get("options") or ()
        )
        return {"id": fd.id}

    def seed_post(*_: Any) -> Any:
        return {"keys": seed_examples(state)}

    def webhook_post(body: dict[str, Any], *_: Any) -> Any:
        state.webhooks.configure(
            body.get("url"),
            body.get("secret"),
            events=body.get("events"),
            retry_delays=body.get("retry_delays"),
        )
        return {}

    def delivery_get(*_: Any) -> Any:
        return {"deliver": not state.webhooks.paused}

    def delivery_put(body: dict[str, Any], *_: Any) -> Any:
        state.webhooks.paused = not bool(body["deliver"])
        return {"deliver": not state.webhooks.paused}

    def webhook_flush(body: dict[str, Any], *_: Any) -> Any:
        state.webhooks.flush(float(body.get("timeout", 10.0)))
        return {}

    def webhook_deliveries(*_: Any) -> Any:
        return [d.to_json() for d in state.webhooks.deliveries()]

    table: list[tuple[str, str, ControlHandler]] = [
        ("POST", "/_sandbox/issues", issues_post),
        ("GET", "/_sandbox/issues", issues_get),
        ("GET", "/_sandbox/issues/{key}", issue_get),
        ("GET", "/_sandbox/users", users_get),
        ("PUT", "/_sandbox/console", console_put),
        ("PUT", "/_sandbox/issues/{key}/fields", fields_put),
        ("POST", "/_sandbox/issues/{key}/comments", comment_post),
        ("PUT", "/_sandbox/issues/{key}/status", status_put),
        ("PUT", "/_sandbox/issues/{key}/updated", updated_put),
        ("GET", "/_sandbox/comments", comments_get),
        ("GET", "/_sandbox/transitions", transitions_get),
        ("GET", "/_sandbox/field-changes", changes_get),
        ("GET", "/_sandbox/requests", requests_get),
        ("DELETE", "/_sandbox/requests", requests_delete),
        ("POST", "/_sandbox/faults", faults_post),
        ("DELETE", "/_sandbox/faults", faults_delete),
        ("GET", "/_sandbox/clock", clock_get),
        ("POST", "/_sandbox/clock", clock_post),
        ("POST", "/_sandbox/users", users_post),
        ("POST", "/_sandbox/projects", projects_post),
        ("POST", "/_sandbox/fields", fields_post),
        ("POST", "/_sandbox/seed", seed_post),
        ("POST", "/_sandbox/webhook", webhook_post),
        ("POST", "/_sandbox/webhook/flush", webhook_flush),
        ("GET", "/_sandbox/webhook/delivery", delivery_get),
        ("PUT", "/_sandbox/webhook/delivery", delivery_put),
        ("GET", "/_sandbox/webhook/deliveries", webhook_deliveries),
    ]
    return [
        Route(path, _control_endpoint(handler), methods=[method]) for method, path, handler in table
    ]


def _control_endpoint(handler: ControlHandler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw else {}
            result = handler(payload, request.path_params, request.query_params)
        except JiraApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except (KeyError, ValueError, TypeError, TimeoutError) as exc:
            # A malformed control call is the test's mistake: say which, as a 400.
            message = f"bad control request: {exc!r}"
            return JSONResponse({"errorMessages": [message], "errors": {}}, status_code=400)
        return JSONResponse(result)

    return endpoint


# ---- client side --------------------------------------------------------------------------


class RemoteJiraSandbox:
    """Drive a stand-in running in another process through its `/_sandbox` routes."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        response = self._http.request(method, f"/_sandbox{path}", json=body, params=query)
        if response.status_code >= 400:
            data = response.json()
            raise JiraApiError(response.status_code, data.get("errorMessages"), data.get("errors"))
        return response.json()

    def file_issue(
        self,
        *,
        reporter: str,
        fields: Mapping[str, Any],
        project: str = "MODREQ",
        issuetype: str = "Request",
        status: str | None = None,
        created: datetime | None = None,
    ) -> str:
        """File an issue as `reporter`; returns its key."""
        body = {
            "reporter": reporter,
            "fields": dict(fields),
            "project": project,
            "issuetype": issuetype,
            "status": status,
            "created": created.isoformat() if created else None,
        }
        return str(self._call("POST", "/issues", body)["key"])

    def edit_fields(self, key: str, fields: Mapping[str, Any], *, by: str | None = None) -> None:
        """Set fields as `by` (default: the API user), bumping `updated`."""
        self._call("PUT", f"/issues/{key}/fields", {"fields": dict(fields), "by": by})

    def comment_as(self, key: str, author: str, body: str) -> str:
        """Comment as `author`; returns the comment id."""
        return str(
            self._call("POST", f"/issues/{key}/comments", {"author": author, "body": body})["id"]
        )

    def set_status(self, key: str, status: str, *, by: str | None = None) -> None:
        """Move an issue to a status regardless of the workflow."""
        self._call("PUT", f"/issues/{key}/status", {"status": status, "by": by})

    def set_updated(self, key: str, moment: datetime) -> None:
        """Overwrite an issue's `updated`."""
        self._call("PUT", f"/issues/{key}/updated", {"updated": moment.isoformat()})

    def set_clock(self, moment: datetime | None) -> None:
        """Freeze the stand-in clock, or unfreeze it (None)."""
        self._call("POST", "/clock", {"now": moment.isoformat() if moment else None})

    def advance_clock(self, seconds: float) -> None:
        """Move the stand-in clock forward."""
        self._call("POST", "/clock", {"advance_seconds": seconds})

    def now(self) -> datetime:
        """The stand-in clock's current instant."""
        return parse_jira_time(self._call("GET", "/clock")["now"])

    def snapshot(self, key: str) -> dict[str, Any]:
        """An issue as plain data (fields by display name, comments)."""
        return dict(self._call("GET", f"/issues/{key}"))

    def comments(self, key: str | None = None) -> list[CommentRecord]:
        """Comments written (on one issue or all)."""
        return [CommentRecord(**r) for r in self._call("GET", "/comments", key=key)]

    def transitions_done(self, key: str | None = None) -> list[TransitionRecord]:
        """Transitions performed (on one issue or all)."""
        return [TransitionRecord(**r) for r in self._call("GET", "/transitions", key=key)]

    def field_changes(self, key: str | None = None) -> list[FieldChange]:
        """Field changes made (on one issue or all)."""
        return [FieldChange(**r) for r in self._call("GET", "/field-changes", key=key)]

    def requests(self) -> list[RecordedRequest]:
        """Every REST request received."""
        return [RecordedRequest(**r) for r in self._call("GET", "/requests")]

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self._call("DELETE", "/requests")

    def add_fault(self, operation: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `operation` ("GET search/jql", "*")."""
        body = {
            "operation": operation,
            "kind": fault.kind.value,
            "status": fault.status,
            "retry_after": fault.retry_after,
            "delay": fault.delay,
            "times": times,
        }
        self._call("POST", "/faults", body)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self._call("DELETE", "/faults")

    def add_user(
        self,
        email: str,
        display_name: str,
        *,
        api_token: str | None = None,
        time_zone: str = "UTC",
        email_visible: bool = True,
    ) -> str:
        """Create an account; returns its account id."""
        body = {
            "email": email,
            "display_name": display_name,
            "api_token": api_token,
            "time_zone": time_zone,
            "email_visible": email_visible,
        }
        return str(self._call("POST", "/users", body)["account_id"])

    def seed_examples(self) -> list[str]:
        """Create the MODREQ example project and issues; returns the keys."""
        return list(self._call("POST", "/seed")["keys"])

    def configure_webhook(
        self,
        url: str | None,
        secret: str | None,
        *,
        events: Sequence[str] | None = None,
        retry_delays: Sequence[float] | None = None,
    ) -> None:
        """POST issue and comment events to `url`, signed with `secret` (None: unsigned)."""
        body = {
            "url": url,
            "secret": secret,
            "events": list(events) if events else None,
            "retry_delays": list(retry_delays) if retry_delays is not None else None,
        }
        self._call("POST", "/webhook", body)

    @property
    def deliver_webhooks(self) -> bool:
        """Whether events are posted as they happen (False: held until `flush_webhooks`)."""
        return bool(self._call("GET", "/webhook/delivery")["deliver"])

    @deliver_webhooks.setter
    def deliver_webhooks(self, value: bool) -> None:
        self._call("PUT", "/webhook/delivery", {"deliver": value})

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Deliver every held or queued event now and wait until done (retries included)."""
        self._call("POST", "/webhook/flush", {"timeout": timeout})

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook event queued so far, with its delivery attempts."""
        return [WebhookDelivery.from_json(d) for d in self._call("GET", "/webhook/deliveries")]
