"""The Jira Cloud stand-in: run it in a thread for tests, or as its own process.

    python -m sandbox.jira_server --port 8081 --seed

serves REST v2 (also `latest`, and v3 with ADF rich text) on 127.0.0.1, prints its URL and
the API user's credentials, and is driven from outside through `/_sandbox/...` (see
`sandbox.jira.control.RemoteJiraSandbox`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import uvicorn

from sandbox.faults import Fault, FaultPlan
from sandbox.jira.app import create_jira_app
from sandbox.jira.control import JiraSandboxControl, RemoteJiraSandbox
from sandbox.jira.model import (
    CommentRecord,
    FieldChange,
    FieldKind,
    RecordedRequest,
    TransitionRecord,
)
from sandbox.jira.seed import PROJECT_KEY, seed_examples
from sandbox.jira.state import API_USER_EMAIL, API_USER_TOKEN, JiraState
from sandbox.jira.webhooks import WebhookDelivery
from sandbox.server import ThreadedServer, bind_loopback

__all__ = [
    "API_USER_EMAIL",
    "API_USER_TOKEN",
    "JiraSandbox",
    "JiraSandboxControl",
    "JiraState",
    "RemoteJiraSandbox",
    "create_jira_app",
    "main",
]


class JiraSandbox:
    """A Jira stand-in served from a background thread, with its state and fault plan."""

    def __init__(
        self,
        state: JiraState | None = None,
        *,
        faults: FaultPlan | None = None,
        port: int = 0,
        seed: bool = False,
    ) -> None:
        self.state = state or JiraState()
        self.faults = faults or FaultPlan()
        self._server = ThreadedServer(create_jira_app(self.state, self.faults), port=port)
        self.url: str = self._server.url
        if self.state.base_url is None:
            self.state.base_url = self.url
        if seed:
            seed_examples(self.state)

    @property
    def credentials(self) -> tuple[str, str]:
        """Email and API token of the API user (what `JIRA(basic_auth=...)` takes)."""
        user = self.state.api_user()
        return user.email, user.api_token or ""

    def start(self) -> JiraSandbox:
        """Start serving; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering webhooks."""
        self.state.webhooks.close()
        self._server.stop()

    def __enter__(self) -> JiraSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- test control (same names as RemoteJiraSandbox) ---------------------------------

    def seed_examples(self) -> list[str]:
        """Create the MODREQ example project, fields, people and issues; returns the keys."""
        return seed_examples(self.state)

    def file_issue(
        self,
        *,
        reporter: str,
        fields: Mapping[str, Any],
        project: str = PROJECT_KEY,
        issuetype: str = "Request",
        status: str | None = None,
        created: datetime | None = None,
    ) -> str:
        """File an issue as `reporter` (email or account id); fields by name or id."""
        return self.state.file_issue(
            project=project,
            reporter=reporter,
            fields=fields,
            issuetype=issuetype,
            status=status,
            created=created,
        )

    def edit_fields(self, key: str, fields: Mapping[str, Any], *, by: str | None = None) -> None:
        """Set fields as `by` (default: the API user), bumping `updated`."""
        self.state.edit_fields(key, fields, by=by)

    def comment_as(self, key: str, author: str, body: str) -> str:
        """Comment as `author`; returns the comment id."""
        return self.state.comment_as(key, author, body)

    def set_status(self, key: str, status: str, *, by: str | None = None) -> None:
        """Move an issue to a status regardless of the workflow."""
        self.state.set_status(key, status, by=by)

    def set_updated(self, key: str, moment: datetime) -> None:
        """Overwrite an issue's `updated`."""
        self.state.set_updated(key, moment)

    def set_clock(self, moment: datetime | None) -> None:
        """Freeze the stand-in clock, or unfreeze it (None)."""
        self.state.set_clock(moment)

    def advance_clock(self, seconds: float) -> None:
        """Move the stand-in clock forward."""
        self.state.advance_clock(seconds)

    def now(self) -> datetime:
        """The stand-in clock's current instant."""
        return self.state.now()

    def snapshot(self, key: str) -> dict[str, Any]:
        """An issue as plain data (fields by display name, comments)."""
        return self.state.snapshot(key)

    def comments(self, key: str | None = None) -> list[CommentRecord]:
        """Comments written (on one issue or all)."""
        return self.state.comment_records(key)

    def transitions_done(self, key: str | None = None) -> list[TransitionRecord]:
        """Transitions performed (on one issue or all)."""
        return self.state.transition_records(key)

    def field_changes(self, key: str | None = None) -> list[FieldChange]:
        """Field changes made (on one issue or all)."""
        return self.state.field_changes(key)

    def requests(self) -> list[RecordedRequest]:
        """Every REST request received."""
        return self.state.recorded()

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self.state.clear_recorded()

    def add_fault(self, operation: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `operation` ("GET search/jql", "*")."""
        self.faults.add(operation, fault, times)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self.faults.clear()

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
        return self.state.add_user(
            email,
            display_name,
            api_token=api_token,
            time_zone=time_zone,
            email_visible=email_visible,
        ).account_id

    def add_project(self, key: str, name: str) -> None:
        """Create a project."""
        self.state.add_project(key, name)

    def add_custom_field(
        self, name: str, kind: FieldKind | str, *, options: tuple[str, ...] = ()
    ) -> str:
        """Define a custom field; returns its id (`customfield_NNNNN`)."""
        return self.state.add_custom_field(name, kind, options=options).id

    def field_id(self, name: str) -> str:
        """The id of a field by its display name."""
        return self.state.field(name).id

    # ---- webhooks ---------------------------------------------------------------------

    def configure_webhook(
        self,
        url: str | None,
        secret: str | None,
        *,
        events: Sequence[str] | None = None,
        retry_delays: Sequence[float] | None = None,
    ) -> None:
        """POST issue and comment events to `url`, signed with `secret` (None: unsigned)."""
        self.state.webhooks.configure(url, secret, events=events, retry_delays=retry_delays)

    @property
    def deliver_webhooks(self) -> bool:
        """Whether events are posted as they happen (False: held until `flush_webhooks`)."""
        return not self.state.webhooks.paused

    @deliver_webhooks.setter
    def deliver_webhooks(self, value: bool) -> None:
        self.state.webhooks.paused = not value

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Deliver every held or queued event now and wait until done (retries included)."""
        self.state.webhooks.flush(timeout)

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook event queued so far, with its delivery attempts."""
        return self.state.webhooks.deliveries()


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.jira_server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", action="store_true", help="create the MODREQ examples")
    parser.add_argument("--webhook-url", help="POST issue and comment events here")
    parser.add_argument("--webhook-secret", help="sign webhooks with this secret")
    args = parser.parse_args(argv)
    sock = bind_loopback(args.port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = JiraState(base_url=url)
    if args.seed:
        seed_examples(state)
    if args.webhook_url:
        state.webhooks.configure(args.webhook_url, args.webhook_secret)
    email, token = API_USER_EMAIL, API_USER_TOKEN
    print(f"jira sandbox on {url} (API user {email}, token {token})", flush=True)
    config = uvicorn.Config(
        create_jira_app(state), log_level="warning", access_log=False, lifespan="off"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
