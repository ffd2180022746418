"""Drive a Slack stand-in from tests, in this process or in another one.

`SlackSandbox` serves from a thread here; `RemoteSlackSandbox` drives a separate process.

Both offer the same control surface (`SlackSandboxControl`), so a test written against one
runs against the other; the remote one speaks the `/_sandbox/...` HTTP API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol

import httpx

from sandbox.faults import Fault, FaultPlan
from sandbox.server import ThreadedServer
from sandbox.slack.app import SlackApp
from sandbox.slack.interactivity import Delivery, Interactivity, ResponsePost
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from sandbox.slack.state import (
    TRIGGER_TTL_SECONDS,
    Clock,
    Ephemeral,
    Message,
    RecordedCall,
    SlackWorkspace,
    View,
)
from sandbox.slack_socket import SocketModeHub


class SlackSandboxControl(Protocol):
    """What a test can do to a Slack stand-in besides calling its Web API."""

    @property
    def url(self) -> str:
        """Root URL, `http://127.0.0.1:PORT`."""

    @property
    def api_url(self) -> str:
        """What to pass as `WebClient(base_url=...)`."""

    def seed_examples(self) -> str:
        """Load the example workspace (EXAMPLE_WORKSPACE); returns its bot token."""

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        title: str = "",
    ) -> None:
        """Add (or replace) a person."""

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        purpose: str = "",
        is_private: bool = False,
    ) -> None:
        """Add (or replace) a channel; include the bot in `members` for it to post there."""

    def add_token(self, token: str, user_id: str) -> None:
        """Make `token` authenticate as `user_id`."""

    def post_as_user(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Post as a person typing in the Slack client would."""

    def messages(self, channel: str) -> list[Message]:
        """Every message of a channel, thread replies included, oldest first."""

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A thread's parent and its replies, oldest first."""

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally for one user or channel."""

    def views(self, *, user: str | None = None) -> list[View]:
        """Views opened or pushed, optionally for one user."""

    def issue_trigger_id(self, user: str) -> str:
        """A trigger_id as Slack sends with a click by `user` (valid for 3 s, once)."""

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """The Web API request log, optionally of one method."""

    def add_fault(self, method: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `method` (`*`: any) with `fault`."""

    def clear_faults(self) -> None:
        """Forget queued and random faults."""

    def lose_responses(self, method: str, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` but reset the connection, unanswered."""

    def reset(self) -> None:
        """Forget messages, ephemerals, views, triggers, calls and faults; keep people."""

    def configure_receiver(self, url: str | None, signing_secret: str) -> None:
        """Deliver interactions to the app at `url`, signed with `signing_secret`."""

    def add_app_token(self, token: str | None = None) -> str:
        """Accept an app-level token for Socket Mode (made up if None); returns it."""

    def socket_connected(self) -> bool:
        """Whether an app holds a Socket Mode connection."""

    def click(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        user: str,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` clicks a button of a stored message; returns how the app answered."""

    def submit_view(
        self,
        view_id: str,
        user: str,
        values: dict[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` submits an open modal with `values` keyed by block_id."""

    def slash(
        self,
        user: str,
        text: str,
        *,
        channel: str | None = None,
        command: str = "/govflow",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` types a slash command."""

    def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Send an earlier delivery's identical body again, as Slack's retry."""

    def response_posts(self, *, user: str | None = None) -> list[ResponsePost]:
        """Posts the app made to response URLs."""


class SlackSandbox:
    """A Slack stand-in served from a background thread of this process."""

    def __init__(
        self,
        *,
        port: int = 0,
        seed: bool = True,
        clock: Clock = time.time,
        trigger_ttl: float = TRIGGER_TTL_SECONDS,
    ) -> None:
        self.state = SlackWorkspace(clock=clock, trigger_ttl=trigger_ttl)
        self.faults = FaultPlan()
        if seed:
            self.seed_examples()
        self.interactivity = Interactivity(self.state)
        self.socket = SocketModeHub(self.state)
        self.app = SlackApp(
            self.state, self.faults, interactivity=self.interactivity, socket=self.socket
        )
        self._server = ThreadedServer(self.app, port)
        self.interactivity.public_url = self._server.url

    @property
    def url(self) -> str:
        """Root URL, `http://127.0.0.1:PORT`."""
        return self._server.url

    @property
    def api_url(self) -> str:
        """What to pass as `WebClient(base_url=...)`."""
        return f"{self._server.url}/api/"

    @property
    def bot_token(self) -> str:
        """The seeded bot token (`xoxb-...`)."""
        return EXAMPLE_WORKSPACE.bot_token

    def start(self) -> SlackSandbox:
        """Start serving; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.interactivity.close()
        self._server.stop()

    def __enter__(self) -> SlackSandbox:
        """Start serving."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def seed_examples(self) -> str:
        """Load the example workspace (EXAMPLE_WORKSPACE); returns its bot token."""
        self.state.load(EXAMPLE_WORKSPACE)
        return EXAMPLE_WORKSPACE.bot_token

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        title: str = "",
    ) -> None:
        """Add (or replace) a person."""
        self.state.add_user(user_id, name, real_name=real_name, email=email, tz=tz, title=title)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        purpose: str = "",
        is_private: bool = False,
    ) -> None:
        """Add (or replace) a channel; include the bot in `members` for it to post there."""
        self.state.add_channel(
            channel_id, name, members=members, purpose=purpose, is_private=is_private
        )

    def add_token(self, token: str, user_id: str) -> None:
        """Make `token` authenticate as `user_id`."""
        self.state.add_token(token, user_id)

    def post_as_user(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Post as a person typing in the Slack client would."""
        return self.state.post(
            self.state.user(user),
            channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            client_msg_id=f"c-{time.monotonic_ns()}",
        )

    def messages(self, channel: str) -> list[Message]:
        """Every message of a channel, thread replies included, oldest first."""
        return self.state.messages(channel)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A thread's parent and its replies, oldest first."""
        return self.state.thread_messages(channel, ts)

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally for one user or channel."""
        return self.state.ephemerals(user=user, channel=channel)

    def views(self, *, user: str | None = None) -> list[View]:
        """Views opened or pushed, optionally for one user."""
        return self.state.views(user=user)

    def issue_trigger_id(self, user: str) -> str:
        """A trigger_id as Slack sends with a click by `user` (valid for 3 s, once)."""
        return self.state.issue_trigger(user)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """The Web API request log, optionally of one method."""
        return self.state.calls(method)

    def add_fault(self, method: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `method` (`*`: any) with `fault`."""
        self.faults.add(method, fault, times)

    def clear_faults(self) -> None:
        """Forget queued and random faults."""
        self.faults.clear()

    def lose_responses(self, method: str, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` but reset the connection, unanswered."""
        self.state.lose_responses(method, times)

    def reset(self) -> None:
        """Forget messages, ephemerals, views, triggers, calls and faults; keep people."""
        self.state.forget_traffic()
        self.faults.clear()
        self.interactivity.forget()

    def configure_receiver(self, url: str | None, signing_secret: str) -> None:
        """Deliver interactions to the app at `url`, signed with `signing_secret`."""
        self.interactivity.configure(url, signing_secret)

    def add_app_token(self, token: str | None = None) -> str:
        """Accept an app-level token for Socket Mode (made up if None); returns it."""
        if token is None:
            return self.socket.new_app_token()
        self.socket.add_app_token(token)
        return token

    def socket_connected(self) -> bool:
        """Whether an app holds a Socket Mode connection."""
        return self.socket.connected()

    def click(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        user: str,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` clicks a button of a stored message; returns how the app answered."""
        return self.interactivity.click(
            channel,
            message_ts,
            action_id,
            user,
            value=value,
            timestamp=timestamp,
            signing_secret=signing_secret,
        )

    def submit_view(
        self,
        view_id: str,
        user: str,
        values: dict[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` submits an open modal with `values` keyed by block_id."""
        return self.interactivity.submit_view(
            view_id, user, values, timestamp=timestamp, signing_secret=signing_secret
        )

    def slash(
        self,
        user: str,
        text: str,
        *,
        channel: str | None = None,
        command: str = "/govflow",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` types a slash command."""
        return self.interactivity.slash(
            user,
            text,
            channel=channel,
            command=command,
            timestamp=timestamp,
            signing_secret=signing_secret,
        )

    def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Send an earlier delivery's identical body again, as Slack's retry."""
        return self.interactivity.redeliver(delivery, retry_num=retry_num, reason=reason)

    def deliver_raw(
        self,
        body: str | bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        signed: bool = True,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Delivery:
        """POST any body to the app, correctly signed unless told otherwise (fuzzing)."""
        return self.interactivity.deliver_raw(
            body,
            content_type=content_type,
            signed=signed,
            timestamp=timestamp,
            signing_secret=signing_secret,
            headers=headers,
        )

    def response_posts(self, *, user: str | None = None) -> list[ResponsePost]:
        """Posts the app made to response URLs."""
        return self.interactivity.response_posts(user=user)


class RemoteSlackSandbox:
    """The control surface of a stand-in in another process, over `/_sandbox/...`."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._http = httpx.Client(base_url=self._url, timeout=timeout)

    @property
    def url(self) -> str:
        """Root URL, `http://127.0.0.1:PORT`."""
        return self._url

    @property
    def api_url(self) -> str:
        """What to pass as `WebClient(base_url=...)`."""
        return f"{self._url}/api/"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(
        self,
        verb: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._http.request(verb, f"/_sandbox/{path}", json=json, params=params)
        body: dict[str, Any] = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"/_sandbox/{path}: HTTP {response.status_code}: {body}")
        return body

    def seed_examples(self) -> str:
        """Load the example workspace (EXAMPLE_WORKSPACE); returns its bot token."""
        return str(self._call("POST", "seed")["bot_token"])

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        title: str = "",
    ) -> None:
        """Add (or replace) a person."""
        self._call(
            "POST",
            "users",
            json={
                "id": user_id,
                "name": name,
                "real_name": real_name,
                "email": email,
                "tz": tz,
                "title": title,
            },
        )

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        purpose: str = "",
        is_private: bool = False,
    ) -> None:
        """Add (or replace) a channel; include the bot in `members` for it to post there."""
        self._call(
            "POST",
            "channels",
            json={
                "id": channel_id,
                "name": name,
                "members": list(members),
                "purpose": purpose,
                "is_private": is_private,
            },
        )

    def add_token(self, token: str, user_id: str) -> None:
        """Make `token` authenticate as `user_id`."""
        self._call("POST", "tokens", json={"token": token, "user": user_id})

    def post_as_user(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Post as a person typing in the Slack client would."""
        body = self._call(
            "POST",
            "messages",
            json={
                "channel": channel,
                "user": user,
                "text": text,
                "thread_ts": thread_ts,
                "blocks": blocks,
            },
        )
        return Message.from_json(body["message"])

    def messages(self, channel: str) -> list[Message]:
        """Every message of a channel, thread replies included, oldest first."""
        body = self._call("GET", "messages", params={"channel": channel})
        return [Message.from_json(m) for m in body["messages"]]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A thread's parent and its replies, oldest first."""
        body = self._call("GET", "messages", params={"channel": channel, "thread_ts": ts})
        return [Message.from_json(m) for m in body["messages"]]

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally for one user or channel."""
        params = {k: v for k, v in (("user", user), ("channel", channel)) if v is not None}
        body = self._call("GET", "ephemerals", params=params)
        return [Ephemeral(**e) for e in body["ephemerals"]]

    def views(self, *, user: str | None = None) -> list[View]:
        """Views opened or pushed, optionally for one user."""
        body = self._call("GET", "views", params={"user": user} if user else None)
        return [View(**v) for v in body["views"]]

    def issue_trigger_id(self, user: str) -> str:
        """A trigger_id as Slack sends with a click by `user` (valid for 3 s, once)."""
        return str(self._call("POST", "triggers", json={"user": user})["trigger_id"])

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """The Web API request log, optionally of one method."""
        body = self._call("GET", "calls", params={"method": method} if method else None)
        return [RecordedCall(**c) for c in body["calls"]]

    def add_fault(self, method: str, fault: Fault, times: int = 1) -> None:
        """Fail the next `times` calls of `method` (`*`: any) with `fault`."""
        self._call(
            "POST",
            "faults",
            json={
                "method": method,
                "kind": fault.kind.value,
                "status": fault.status,
                "retry_after": fault.retry_after,
                "delay": fault.delay,
                "times": times,
            },
        )

    def clear_faults(self) -> None:
        """Forget queued and random faults."""
        self._call("DELETE", "faults")

    def lose_responses(self, method: str, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` but reset the connection, unanswered."""
        self._call("POST", "lost-responses", json={"method": method, "times": times})

    def reset(self) -> None:
        """Forget messages, ephemerals, views, triggers, calls and faults; keep people."""
        self._call("POST", "reset")

    def configure_receiver(self, url: str | None, signing_secret: str) -> None:
        """Deliver interactions to the app at `url`, signed with `signing_secret`."""
        self._call("POST", "receiver", json={"url": url, "signing_secret": signing_secret})

    def add_app_token(self, token: str | None = None) -> str:
        """Accept an app-level token for Socket Mode (made up if None); returns it."""
        return str(self._call("POST", "app-tokens", json={"token": token})["token"])

    def socket_connected(self) -> bool:
        """Whether an app holds a Socket Mode connection."""
        return bool(self._call("GET", "socket")["connected"])

    def click(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        user: str,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` clicks a button of a stored message; returns how the app answered."""
        body = self._call(
            "POST",
            "click",
            json={
                "channel": channel,
                "message_ts": message_ts,
                "action_id": action_id,
                "user": user,
                "value": value,
                "timestamp": timestamp,
                "signing_secret": signing_secret,
            },
        )
        return Delivery.from_json(body["delivery"])

    def submit_view(
        self,
        view_id: str,
        user: str,
        values: dict[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` submits an open modal with `values` keyed by block_id."""
        body = self._call(
            "POST",
            "submit-view",
            json={
                "view_id": view_id,
                "user": user,
                "values": values,
                "timestamp": timestamp,
                "signing_secret": signing_secret,
            },
        )
        return Delivery.from_json(body["delivery"])

    def slash(
        self,
        user: str,
        text: str,
        *,
        channel: str | None = None,
        command: str = "/govflow",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Delivery:
        """`user` types a slash command."""
        body = self._call(
            "POST",
            "slash",
            json={
                "user": user,
                "text": text,
                "channel": channel,
                "command": command,
                "timestamp": timestamp,
                "signing_secret": signing_secret,
            },
        )
        return Delivery.from_json(body["delivery"])

    def redeliver(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Send an earlier delivery's identical body again, as Slack's retry."""
        body = self._call(
            "POST",
            "redeliver",
            json={"delivery": delivery.to_json(), "retry_num": retry_num, "reason": reason},
        )
        return Delivery.from_json(body["delivery"])

    def response_posts(self, *, user: str | None = None) -> list[ResponsePost]:
        """Posts the app made to response URLs."""
        body = self._call("GET", "response-posts", params={"user": user} if user else None)
        return [ResponsePost(**p) for p in body["posts"]]
