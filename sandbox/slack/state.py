"""The workspace a Slack stand-in serves: people, channels, messages, ephemerals, views, traffic.

One `SlackWorkspace` is shared by uvicorn's event-loop thread (answering API calls) and the
test thread (seeding, reading what was posted), so every public method takes the lock.
Operations raise `ApiFailure` with Slack's error code; rendering JSON is `methods.py`'s job.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.slack.errors import ApiFailure
from sandbox.slack.seed import TeamSeed, WorkspaceSeed

Clock = Callable[[], float]
DEFAULT_TEAM = TeamSeed(id="T0GOVFLOW", name="Example Marketplace", domain="example-marketplace")
TRIGGER_TTL_SECONDS = 3.0
VIEW_STACK_LIMIT = 3
MPIM_USER_LIMIT = 8


@dataclass
class User:
    """A person or bot user."""

    id: str
    name: str
    real_name: str
    email: str | None
    tz: str
    title: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False
    updated: int = 0


@dataclass
class Channel:
    """A public or private channel, an IM or a group DM."""

    id: str
    name: str
    members: list[str]
    created: int
    creator: str
    purpose: str = ""
    is_private: bool = False
    is_general: bool = False
    is_archived: bool = False
    is_im: bool = False
    is_mpim: bool = False
    im_user: str | None = None


@dataclass(frozen=True)
class Edit:
    """A message as it was before one `chat.update`."""

    text: str
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    edited_ts: str
    by: str


@dataclass
class Message:
    """One posted message, top-level or in a thread, with its edit history."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    reply_broadcast: bool = False
    client_msg_id: str | None = None
    edits: list[Edit] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        """Whether this message sits inside another message's thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        """Rebuild from `to_json` output."""
        edits = [Edit(**e) for e in data.get("edits", [])]
        return cls(**{**data, "edits": edits})


@dataclass
class Ephemeral:
    """A message only `user` saw, in `channel`."""

    channel: str
    user: str
    ts: str
    text: str
    poster: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)


@dataclass
class View:
    """A modal or App Home view as the app last sent it."""

    id: str
    user: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    app_id: str | None = None
    bot_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)


@dataclass
class Trigger:
    """A `trigger_id` the stand-in handed out with an interaction."""

    id: str
    user: str
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class RecordedCall:
    """One Web API request as the stand-in received and answered it."""

    method: str
    args: dict[str, Any]
    http_status: int | None  # None: the stand-in dropped the connection instead of answering
    error: str | None
    fault: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        """Plain data for the `/_sandbox` control API."""
        return asdict(self)


@dataclass(frozen=True)
class Caller:
    """Who a token belongs to."""

    token: str
    user: User


def slack_ts(micros: int) -> str:
    """Slack's `1700000000.000100` form of a microsecond count."""
    return f"{micros // 1_000_000:010d}.{micros % 1_000_000:06d}"


def ts_micros(ts: str) -> int:
    """Microseconds of a Slack ts; ValueError when it is not one."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6] or "0")


def encode_cursor(ts: str) -> str:
    """An opaque cursor shaped like Slack's: base64 of `next_ts:<digits>`."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The microsecond position a cursor points at, or `invalid_cursor`."""
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        prefix, _, digits = text.partition(":")
        if prefix != "next_ts" or not digits.isdigit():
            raise ValueError(text)
        return int(digits)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiFailure("invalid_cursor") from exc


class SlackWorkspace:
    """Thread-safe state of one Slack workspace plus the traffic it has seen."""

    def __init__(self, *, clock: Clock = time.time, trigger_ttl: float = TRIGGER_TTL_SECONDS):
        self._lock = threading.RLock()
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.team = DEFAULT_TEAM
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._tokens: dict[str, str] = {}
        self._messages: dict[str, list[Message]] = {}
        self._by_ts: dict[tuple[str, str], Message] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, View] = {}
        self._view_stacks: dict[str, list[str]] = {}
        self._triggers: dict[str, Trigger] = {}
        self._ims: dict[frozenset[str], str] = {}
        self._calls: list[RecordedCall] = []
        self._lost_responses: dict[str, int] = {}
        self._last_micros = 0
        self._ids = itertools.count(1)

    # --- setup -------------------------------------------------------------------------

    def load(self, seed: WorkspaceSeed) -> None:
        """Add a seeded team, its bot (with its token), people and channels."""
        with self._lock:
            self.team = seed.team
            for person in (seed.bot, *seed.users):
                self.add_user(
                    person.id,
                    person.name,
                    real_name=person.real_name,
                    email=person.email,
                    tz=person.tz,
                    title=person.title,
                    is_bot=person.is_bot,
                    bot_id=person.bot_id,
                    app_id=person.app_id,
                )
            self.add_token(seed.bot_token, seed.bot.id)
            for ch in seed.channels:
                self.add_channel(
                    ch.id,
                    ch.name,
                    members=ch.members,
                    purpose=ch.purpose,
                    is_private=ch.is_private,
                    is_general=ch.is_general,
                    creator=seed.bot.id,
                )

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        title: str = "",
        is_bot: bool = False,
        bot_id: str | None = None,
        app_id: str | None = None,
    ) -> User:
        """Add (or replace) a user."""
        with self._lock:
            user = User(
                id=user_id,
                name=name,
                real_name=real_name or name,
                email=email,
                tz=tz,
                title=title,
                is_bot=is_bot,
                bot_id=bot_id,
                app_id=app_id,
                updated=int(self.clock()),
            )
            self._users[user_id] = user
            return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        purpose: str = "",
        is_private: bool = False,
        is_general: bool = False,
        creator: str = "",
    ) -> Channel:
        """Add (or replace) a channel; include the bot in `members` if it should post there."""
        with self._lock:
            member_ids = list(dict.fromkeys(members))
            unknown = [m for m in member_ids if m not in self._users]
            if unknown:
                raise KeyError(f"unknown members {unknown}")
            channel = Channel(
                id=channel_id,
                name=name,
                members=member_ids,
                created=int(self.clock()),
                creator=creator or (member_ids[0] if member_ids else ""),
                purpose=purpose,
                is_private=is_private,
                is_general=is_general,
            )
            self._channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
            return copy.deepcopy(channel)

    def add_token(self, token: str, user_id: str) -> None:
        """Make `token` authenticate as `user_id` (a bot token for a bot user, or a user token)."""
        with self._lock:
            if user_id not in self._users:
                raise KeyError(user_id)
            self._tokens[token] = user_id

    def archive_channel(self, channel_id: str) -> None:
        """Archive a channel, so posting to it fails with `is_archived`."""
        with self._lock:
            self._channels[channel_id].is_archived = True

    # --- identity ----------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a token, or `not_authed` / `invalid_auth` as Slack says."""
        with self._lock:
            if not token:
                raise ApiFailure("not_authed")
            user_id = self._tokens.get(token)
            if user_id is None:
                raise ApiFailure("invalid_auth")
            return Caller(token=token, user=copy.deepcopy(self._users[user_id]))

    def user(self, user_id: str) -> User:
        """A user by id, or `user_not_found`."""
        with self._lock:
            user = self._users.get(user_id)
            if user is None:
                raise ApiFailure("user_not_found")
            return copy.deepcopy(user)

    def user_by_email(self, email: str) -> User:
        """A user by email (case-insensitive), or `users_not_found`."""
        with self._lock:
            for user in self._users.values():
                if user.email is not None and user.email.lower() == email.strip().lower():
                    return copy.deepcopy(user)
            raise ApiFailure("users_not_found")

    def channel(self, ref: str) -> Channel:
        """A channel by id or by name (with or without `#`), or `channel_not_found`."""
        with self._lock:
            return copy.deepcopy(self._channel(ref))

    def _channel(self, ref: str) -> Channel:
        found = self._channels.get(ref)
        if found is None:
            name = ref.lstrip("#")
            found = next((c for c in self._channels.values() if c.name == name and name), None)
        if found is None:
            raise ApiFailure("channel_not_found")
        return found

    def _destination(self, poster: User, ref: str) -> Channel:
        """Where a post to `ref` lands: a user id means the app's DM with that user."""
        if ref and ref[0] in "UW" and ref in self._users:
            return self._open_im(poster.id, ref)[0]
        return self._channel(ref)

    # --- time --------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh message ts: unique and strictly increasing even if the clock stalls."""
        with self._lock:
            self._last_micros = max(self._last_micros + 1, int(self.clock() * 1_000_000))
            return slack_ts(self._last_micros)

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    # --- messages ----------------------------------------------------------------------

    def post(
        self,
        poster: User,
        channel_ref: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        client_msg_id: str | None = None,
    ) -> Message:
        """Record a message posted by `poster`, as chat.postMessage (or a human) would."""
        with self._lock:
            channel = self._destination(poster, channel_ref)
            if channel.is_archived:
                raise ApiFailure("is_archived")
            if poster.id not in channel.members:
                raise ApiFailure("not_in_channel")
            root_ts: str | None = None
            if thread_ts:
                parent = self._by_ts.get((channel.id, thread_ts))
                if parent is None:
                    raise ApiFailure("thread_not_found")
                # A reply to a reply lands in the parent's thread, as in the Slack client.
                root_ts = parent.thread_ts if parent.is_reply else parent.ts
            message = Message(
                channel=channel.id,
                ts=self.next_ts(),
                user=poster.id,
                text=text,
                blocks=copy.deepcopy(blocks),
                metadata=copy.deepcopy(metadata),
                thread_ts=root_ts,
                bot_id=poster.bot_id,
                app_id=poster.app_id,
                reply_broadcast=bool(root_ts) and reply_broadcast,
                client_msg_id=client_msg_id,
            )
            if root_ts is not None:
                self._by_ts[(channel.id, root_ts)].thread_ts = root_ts
            self._messages[channel.id].append(message)
            self._by_ts[(channel.id, message.ts)] = message
            return copy.deepcopy(message)

    def update(
        self,
        editor: User,
        channel_ref: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None,
    ) -> Message:
        """Edit a message in place, keeping what it was in `edits`, as chat.update does."""
        with self._lock:
            channel = self._channel(channel_ref)
            message = self._by_ts.get((channel.id, ts))
            if message is None:
                raise ApiFailure("message_not_found")
            if message.user != editor.id:
                raise ApiFailure("cant_update_message")
            if text is None and blocks is None:
                raise ApiFailure("no_text")
            message.edits.append(
                Edit(
                    text=message.text,
                    blocks=copy.deepcopy(message.blocks),
                    metadata=copy.deepcopy(message.metadata),
                    edited_ts=self.next_ts(),
                    by=editor.id,
                )
            )
            # Omitted blocks, text or metadata are kept, as Slack documents for chat.update.
            if blocks is not None:
                message.blocks = copy.deepcopy(blocks) or None
            if text is not None:
                message.text = text
            if metadata is not None:
                message.metadata = copy.deepcopy(metadata)
            return copy.deepcopy(message)

    def message(self, channel_ref: str, ts: str) -> Message:
        """One message by channel and ts, or `message_not_found`."""
        with self._lock:
            channel = self._channel(channel_ref)
            message = self._by_ts.get((channel.id, ts))
            if message is None:
                raise ApiFailure("message_not_found")
            return copy.deepcopy(message)

    def history(self, reader: User, channel_ref: str) -> list[Message]:
        """Top-level messages and thread broadcasts of a channel, newest first."""
        with self._lock:
            channel = self._readable(reader, channel_ref)
            shown = [m for m in self._messages[channel.id] if not m.is_reply or m.reply_broadcast]
            return copy.deepcopy(shown[::-1])

    def thread(self, reader: User, channel_ref: str, ts: str) -> list[Message]:
        """A thread: its parent, then every reply oldest first, or `thread_not_found`."""
        with self._lock:
            channel = self._readable(reader, channel_ref)
            parent = self._by_ts.get((channel.id, ts))
            if parent is None:
                raise ApiFailure("thread_not_found")
            root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
            thread = [m for m in self._messages[channel.id] if m.ts == root or m.thread_ts == root]
            return copy.deepcopy(thread)

    def replies_of(self, channel_id: str, root_ts: str) -> list[Message]:
        """The replies under one parent, oldest first (no access check: for rendering)."""
        with self._lock:
            return copy.deepcopy(
                [
                    m
                    for m in self._messages.get(channel_id, [])
                    if m.thread_ts == root_ts and m.ts != root_ts
                ]
            )

    def _readable(self, reader: User, channel_ref: str) -> Channel:
        channel = self._channel(channel_ref)
        if reader.id not in channel.members:
            raise ApiFailure("not_in_channel")
        return channel

    def post_ephemeral(
        self,
        poster: User,
        channel_ref: str,
        recipient: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None,
    ) -> Ephemeral:
        """Record a message only `recipient` sees, as chat.postEphemeral does."""
        with self._lock:
            channel = self._destination(poster, channel_ref)
            if recipient not in self._users:
                raise ApiFailure("user_not_found")
            if poster.id not in channel.members:
                raise ApiFailure("not_in_channel")
            if recipient not in channel.members:
                raise ApiFailure("user_not_in_channel")
            ephemeral = Ephemeral(
                channel=channel.id,
                user=recipient,
                ts=self.next_ts(),
                text=text,
                poster=poster.id,
                blocks=copy.deepcopy(blocks),
                thread_ts=thread_ts,
            )
            self._ephemerals.append(ephemeral)
            return copy.deepcopy(ephemeral)

    def record_ephemeral(
        self,
        channel_ref: str,
        recipient: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        poster: str,
    ) -> Ephemeral:
        """Record an ephemeral shown through a response_url (no membership checks apply)."""
        with self._lock:
            channel = self._channel(channel_ref)
            ephemeral = Ephemeral(
                channel=channel.id,
                user=recipient,
                ts=self.next_ts(),
                text=text,
                poster=poster,
                blocks=copy.deepcopy(blocks),
            )
            self._ephemerals.append(ephemeral)
            return copy.deepcopy(ephemeral)

    def replace_message(
        self, channel_ref: str, ts: str, *, text: str, blocks: list[dict[str, Any]] | None
    ) -> Message:
        """Replace a message's content as a response_url `replace_original` does."""
        with self._lock:
            channel = self._channel(channel_ref)
            message = self._by_ts.get((channel.id, ts))
            if message is None:
                raise ApiFailure("message_not_found")
            message.edits.append(
                Edit(
                    text=message.text,
                    blocks=copy.deepcopy(message.blocks),
                    metadata=copy.deepcopy(message.metadata),
                    edited_ts=self.next_ts(),
                    by=message.user,
                )
            )
            message.text = text
            message.blocks = copy.deepcopy(blocks) or None
            return copy.deepcopy(message)

    # --- conversations -----------------------------------------------------------------

    def open_conversation(self, opener: User, user_ids: list[str]) -> tuple[Channel, bool]:
        """The IM or group DM of `opener` with `user_ids` (stable per set) and if it existed."""
        with self._lock:
            if not user_ids:
                raise ApiFailure("users_list_not_supplied")
            for uid in user_ids:
                if uid not in self._users:
                    raise ApiFailure("user_not_found")
            if len(user_ids) > MPIM_USER_LIMIT:
                raise ApiFailure("too_many_users")
            if len(user_ids) == 1:
                return self._open_im(opener.id, user_ids[0])
            key = frozenset({opener.id, *user_ids})
            existing = self._ims.get(key)
            if existing is not None:
                return copy.deepcopy(self._channels[existing]), True
            channel = Channel(
                id=self._next_id("G0MP"),
                name="mpdm-" + "--".join(sorted(key)) + "-1",
                members=sorted(key),
                created=int(self.clock()),
                creator=opener.id,
                is_private=True,
                is_mpim=True,
            )
            return self._remember_conversation(key, channel), False

    def _open_im(self, opener_id: str, user_id: str) -> tuple[Channel, bool]:
        key = frozenset({opener_id, user_id})
        existing = self._ims.get(key)
        if existing is not None:
            return copy.deepcopy(self._channels[existing]), True
        channel = Channel(
            id=self._next_id("D0IM"),
            name=user_id,
            members=sorted(key),
            created=int(self.clock()),
            creator=opener_id,
            is_private=True,
            is_im=True,
            im_user=user_id,
        )
        return self._remember_conversation(key, channel), False

    def _remember_conversation(self, key: frozenset[str], channel: Channel) -> Channel:
        self._ims[key] = channel.id
        self._channels[channel.id] = channel
        self._messages[channel.id] = []
        return copy.deepcopy(channel)

    # --- views and triggers ------------------------------------------------------------

    def issue_trigger(self, user_id: str) -> str:
        """A fresh `trigger_id`, as Slack sends with a click; it expires after `trigger_ttl`."""
        with self._lock:
            if user_id not in self._users:
                raise KeyError(user_id)
            now = self.clock()
            trigger_id = f"{int(now * 1000)}.{next(self._ids)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = Trigger(id=trigger_id, user=user_id, issued_at=now)
            return trigger_id

    def _consume_trigger(self, trigger_id: str) -> Trigger:
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise ApiFailure("invalid_trigger_id")
        if trigger.used:
            raise ApiFailure("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > self.trigger_ttl:
            raise ApiFailure("expired_trigger_id")
        trigger.used = True
        return trigger

    def open_view(self, app: User, trigger_id: str, payload: dict[str, Any]) -> View:
        """Open a modal for the trigger's user, replacing any stack they had."""
        with self._lock:
            self._check_external_id(payload.get("external_id"), None)
            trigger = self._consume_trigger(trigger_id)
            view = self._new_view(app, trigger.user, payload, root=None, previous=None)
            self._view_stacks[trigger.user] = [view.id]
            return copy.deepcopy(view)

    def push_view(self, app: User, trigger_id: str, payload: dict[str, Any]) -> View:
        """Push a modal on top of the trigger's user's stack (at most three deep)."""
        with self._lock:
            self._check_external_id(payload.get("external_id"), None)
            trigger = self._consume_trigger(trigger_id)
            stack = self._view_stacks.setdefault(trigger.user, [])
            if len(stack) >= VIEW_STACK_LIMIT:
                raise ApiFailure("push_limit_reached")
            root = stack[0] if stack else None
            previous = stack[-1] if stack else None
            view = self._new_view(app, trigger.user, payload, root=root, previous=previous)
            stack.append(view.id)
            return copy.deepcopy(view)

    def update_view(
        self,
        view_id: str | None,
        external_id: str | None,
        payload: dict[str, Any],
        expected_hash: str | None,
    ) -> View:
        """Replace a view's content; a stale `hash` is `hash_conflict`, as Slack guards races."""
        with self._lock:
            view = self._views.get(view_id or "")
            if view is None and external_id:
                view = next((v for v in self._views.values() if v.external_id == external_id), None)
            if view is None:
                raise ApiFailure("not_found")
            if expected_hash and expected_hash != view.hash:
                raise ApiFailure("hash_conflict")
            self._check_external_id(payload.get("external_id"), view.id)
            view.payload = copy.deepcopy(payload)
            view.external_id = payload.get("external_id") or view.external_id
            view.hash = self._view_hash()
            return copy.deepcopy(view)

    def _check_external_id(self, external_id: Any, own_view: str | None) -> None:
        if not external_id:
            return
        for view in self._views.values():
            if view.external_id == external_id and view.id != own_view:
                raise ApiFailure("duplicate_external_id")

    def _new_view(
        self,
        app: User,
        user: str,
        payload: dict[str, Any],
        *,
        root: str | None,
        previous: str | None,
    ) -> View:
        view_id = self._next_id("V0SB")
        view = View(
            id=view_id,
            user=user,
            payload=copy.deepcopy(payload),
            hash=self._view_hash(),
            root_view_id=root or view_id,
            previous_view_id=previous,
            external_id=payload.get("external_id") or None,
            app_id=app.app_id,
            bot_id=app.bot_id,
        )
        self._views[view_id] = view
        return view

    def _view_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    # --- traffic -----------------------------------------------------------------------

    def record(self, call: RecordedCall) -> None:
        """Keep one answered API request for test assertions."""
        with self._lock:
            self._calls.append(call)

    def lose_responses(self, method: str, times: int = 1) -> None:
        """Carry out the next `times` calls of `method`, then drop the answer on the floor."""
        with self._lock:
            self._lost_responses[method] = self._lost_responses.get(method, 0) + times

    def take_lost_response(self, method: str) -> bool:
        """Whether this call's answer is to be lost (consumes one)."""
        with self._lock:
            left = self._lost_responses.get(method, 0)
            if left <= 0:
                return False
            self._lost_responses[method] = left - 1
            return True

    def forget_traffic(self) -> None:
        """Drop messages, ephemerals, views, triggers and the call log; keep people and channels."""
        with self._lock:
            for channel_id in self._messages:
                self._messages[channel_id] = []
            self._by_ts.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._view_stacks.clear()
            self._triggers.clear()
            self._calls.clear()
            self._lost_responses.clear()

    # --- reading for tests -------------------------------------------------------------

    def messages(self, channel_ref: str) -> list[Message]:
        """Every message in a channel, threads included, oldest first."""
        with self._lock:
            return copy.deepcopy(self._messages[self._channel(channel_ref).id])

    def thread_messages(self, channel_ref: str, ts: str) -> list[Message]:
        """A thread's parent then replies, with no membership check."""
        with self._lock:
            channel = self._channel(channel_ref)
            return copy.deepcopy(
                [m for m in self._messages[channel.id] if m.ts == ts or m.thread_ts == ts]
            )

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally only those shown to `user` or in `channel`."""
        with self._lock:
            return copy.deepcopy(
                [
                    e
                    for e in self._ephemerals
                    if user in (None, e.user) and channel in (None, e.channel)
                ]
            )

    def views(self, *, user: str | None = None) -> list[View]:
        """Every view opened or pushed, optionally only for one user."""
        with self._lock:
            return copy.deepcopy([v for v in self._views.values() if user in (None, v.user)])

    def view_stack(self, user: str) -> list[str]:
        """The ids of the modals a user has open, root first."""
        with self._lock:
            return list(self._view_stacks.get(user, []))

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """The API request log, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method in (None, c.method)]

    def users(self) -> list[User]:
        """Every user."""
        with self._lock:
            return copy.deepcopy(list(self._users.values()))

    def channels(self) -> list[Channel]:
        """Every channel, IMs and group DMs included."""
        with self._lock:
            return copy.deepcopy(list(self._channels.values()))
