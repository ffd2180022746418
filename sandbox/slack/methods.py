"""The Web API methods the stand-in serves: argument handling and Slack-shaped JSON.

Each handler takes the workspace, the authenticated caller and the call's arguments and
returns the success body; a refusal is an `ApiFailure`. Shapes follow what Slack returns
(and at least what `slack-web-api.swagger2.json` requires), not what is convenient.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.slack.blocks import (
    VIEW_BLOCK_LIMIT,
    block_problems,
    decode_json_arg,
    parse_blocks,
    parse_metadata,
)
from sandbox.slack.errors import ApiFailure
from sandbox.slack.state import (
    Caller,
    Channel,
    Message,
    SlackWorkspace,
    User,
    View,
    decode_cursor,
    encode_cursor,
    ts_micros,
)

MAX_TEXT_LENGTH = 40_000
HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT = 100, 999
REPLIES_DEFAULT_LIMIT, REPLIES_MAX_LIMIT = 1000, 1000
AVATAR = "https://a.slack-edge.com/80588/img/avatars/ava_0001-{size}.png"
BOT_ICON = "https://a.slack-edge.com/80588/img/plugins/app/bot_{size}.png"


class Args:
    """A call's arguments from the query string, a form or a JSON body; null means absent."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = {k: v for k, v in values.items() if v is not None}

    def has(self, name: str) -> bool:
        """Whether the argument was sent (an empty form field counts as not sent)."""
        value: object = self.values.get(name, "")
        return value != ""

    def raw(self, name: str) -> Any:
        """The argument as sent, None if absent."""
        return self.values.get(name) if self.has(name) else None

    def text(self, name: str) -> str | None:
        """The argument as a string, None if absent."""
        value = self.raw(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool:
        """A boolean argument: Slack takes `true`/`1` (slack_sdk sends `1`/`0` in forms)."""
        value = self.raw(name)
        return bool(value is True or str(value).lower() in {"1", "true"})

    def integer(self, name: str, default: int, maximum: int) -> int:
        """A positive integer argument capped at `maximum`; junk or <1 means the default."""
        try:
            value = int(str(self.raw(name)))
        except ValueError:
            return default
        return default if value < 1 else min(value, maximum)

    def user_list(self, name: str) -> list[str]:
        """A comma-separated list (or a JSON array) of ids."""
        value = self.raw(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]


Handler = Callable[[SlackWorkspace, Caller, Args], dict[str, Any]]


# --- rendering -----------------------------------------------------------------------


def render_message(ws: SlackWorkspace, msg: Message, *, with_metadata: bool) -> dict[str, Any]:
    """A message as Slack returns it in history, replies and post responses."""
    out: dict[str, Any] = {
        "type": "message",
        "text": msg.text,
        "user": msg.user,
        "ts": msg.ts,
        "team": ws.team.id,
    }
    if msg.client_msg_id:
        out["client_msg_id"] = msg.client_msg_id
    if msg.bot_id:
        out.update(
            bot_id=msg.bot_id, app_id=msg.app_id, bot_profile=_bot_profile(ws, ws.user(msg.user))
        )
    if msg.blocks:
        out["blocks"] = msg.blocks
    if msg.reply_broadcast:
        out["subtype"] = "thread_broadcast"
    if msg.thread_ts:
        out["thread_ts"] = msg.thread_ts
    if msg.is_reply and msg.thread_ts:
        out["parent_user_id"] = ws.message(msg.channel, msg.thread_ts).user
    elif msg.thread_ts:
        replies = ws.replies_of(msg.channel, msg.ts)
        reply_users = list(dict.fromkeys(r.user for r in replies))
        out.update(
            reply_count=len(replies),
            reply_users_count=len(reply_users),
            latest_reply=replies[-1].ts if replies else msg.ts,
            reply_users=reply_users,
            is_locked=False,
            subscribed=False,
        )
    if msg.edits:
        out["edited"] = {"user": msg.edits[-1].by, "ts": msg.edits[-1].edited_ts}
    if with_metadata and msg.metadata:
        out["metadata"] = msg.metadata
    return out


def _bot_profile(ws: SlackWorkspace, bot: User) -> dict[str, Any]:
    return {
        "id": bot.bot_id,
        "deleted": False,
        "name": bot.real_name,
        "updated": bot.updated,
        "app_id": bot.app_id,
        "team_id": ws.team.id,
        "icons": {f"image_{n}": BOT_ICON.format(size=n) for n in (36, 48, 72)},
    }


def render_user(ws: SlackWorkspace, user: User) -> dict[str, Any]:
    """A user object as users.info and users.lookupByEmail return it."""
    label, offset = _tz_label_offset(user.tz, ws.clock())
    first, _, last = user.real_name.partition(" ")
    profile: dict[str, Any] = {
        "title": user.title,
        "phone": "",
        "skype": "",
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "fields": {},
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "avatar_hash": "g" + hashlib.sha1(user.id.encode()).hexdigest()[:11],
        "first_name": first,
        "last_name": last,
        "team": ws.team.id,
        **{f"image_{n}": AVATAR.format(size=n) for n in (24, 32, 48, 72, 192, 512)},
    }
    if user.email is not None:
        profile["email"] = user.email
    if user.is_bot:
        profile.update(bot_id=user.bot_id, api_app_id=user.app_id, always_active=True)
    return {
        "id": user.id,
        "team_id": ws.team.id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": label,
        "tz_offset": offset,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": user.updated,
        "is_email_confirmed": user.email is not None,
    }


def _tz_label_offset(tz: str, now: float) -> tuple[str, int]:
    try:
        local = datetime.fromtimestamp(now, tz=UTC).astimezone(ZoneInfo(tz))
    except ZoneInfoNotFoundError:
        return "UTC", 0
    offset = local.utcoffset()
    return local.tzname() or tz, int(offset.total_seconds()) if offset else 0


def render_channel(
    ws: SlackWorkspace, ch: Channel, reader: User, *, num_members: bool
) -> dict[str, Any]:
    """A conversation object as conversations.info (and conversations.open) return it."""
    if ch.is_im:
        return {
            "id": ch.id,
            "created": ch.created,
            "is_archived": ch.is_archived,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": ws.team.id,
            "user": ch.im_user,
            "is_user_deleted": False,
            "priority": 0,
            "is_open": True,
        }
    out: dict[str, Any] = {
        "id": ch.id,
        "name": ch.name,
        "is_channel": not ch.is_private and not ch.is_mpim,
        "is_group": ch.is_private and not ch.is_mpim,
        "is_im": False,
        "is_mpim": ch.is_mpim,
        "is_private": ch.is_private,
        "created": ch.created,
        "is_archived": ch.is_archived,
        "is_general": ch.is_general,
        "unlinked": 0,
        "name_normalized": ch.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team.id,
        "parent_conversation": None,
        "creator": ch.creator,
        "is_member": reader.id in ch.members,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {
            "value": ch.purpose,
            "creator": ch.creator if ch.purpose else "",
            "last_set": ch.created if ch.purpose else 0,
        },
        "previous_names": [],
    }
    if num_members:
        out["num_members"] = len(ch.members)
    return out


def render_view(ws: SlackWorkspace, view: View) -> dict[str, Any]:
    """A view object as views.open, views.push and views.update return it."""
    p = view.payload
    return {
        "id": view.id,
        "team_id": ws.team.id,
        "type": p["type"],
        "blocks": p.get("blocks", []),
        "private_metadata": p.get("private_metadata", ""),
        "callback_id": p.get("callback_id", ""),
        "state": {"values": {}},
        "hash": view.hash,
        "title": p.get("title"),
        "clear_on_close": bool(p.get("clear_on_close", False)),
        "notify_on_close": bool(p.get("notify_on_close", False)),
        "close": p.get("close"),
        "submit": p.get("submit"),
        "previous_view_id": view.previous_view_id,
        "root_view_id": view.root_view_id,
        "app_id": view.app_id,
        "external_id": view.external_id or "",
        "app_installed_team_id": ws.team.id,
        "bot_id": view.bot_id,
    }


def permalink(ws: SlackWorkspace, msg: Message) -> str:
    """The web link of a message, thread replies carrying their thread as Slack's do."""
    link = f"https://{ws.team.domain}.slack.com/archives/{msg.channel}/p{msg.ts.replace('.', '')}"
    if msg.is_reply:
        link += f"?thread_ts={msg.thread_ts}&cid={msg.channel}"
    return link


# --- argument checks -----------------------------------------------------------------


def _content(args: Args) -> tuple[str | None, list[dict[str, Any]] | None]:
    blocks = parse_blocks(args.raw("blocks")) if args.has("blocks") else None
    text = args.text("text")
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        raise ApiFailure("msg_too_long")
    return text, blocks


def _metadata(args: Args) -> dict[str, Any] | None:
    return parse_metadata(args.raw("metadata")) if args.has("metadata") else None


def _required(args: Args, name: str, code: str) -> str:
    value = args.text(name)
    if value is None:
        raise ApiFailure(code)
    return value


def _ts_bound(args: Args, name: str, code: str) -> int | None:
    value = args.text(name)
    if value is None:
        return None
    try:
        return ts_micros(value)
    except ValueError as exc:
        raise ApiFailure(code) from exc


def _view_payload(args: Args) -> dict[str, Any]:
    try:
        view = decode_json_arg(args.raw("view"))
    except json.JSONDecodeError as exc:
        raise ApiFailure(
            "invalid_arguments", messages=["[ERROR] invalid JSON [json-pointer:/view]"]
        ) from exc
    if not isinstance(view, dict):
        raise ApiFailure(
            "invalid_arguments",
            messages=["[ERROR] missing required field: view [json-pointer:/view]"],
        )
    problems: list[str] = []
    if view.get("type") not in ("modal", "home"):
        problems.append("[ERROR] must be one of: modal, home [json-pointer:/view/type]")
    for name, required in (
        ("title", view.get("type") == "modal"),
        ("submit", False),
        ("close", False),
    ):
        obj = view.get(name)
        if obj is None:
            if required:
                problems.append(f"[ERROR] missing required field: {name} [json-pointer:/view]")
        elif (
            not isinstance(obj, dict)
            or obj.get("type") != "plain_text"
            or not isinstance(obj.get("text"), str)
            or not 0 < len(obj["text"]) <= 24
        ):
            problems.append(
                f"[ERROR] must be plain_text of 1-24 characters [json-pointer:/view/{name}]"
            )
    blocks = view.get("blocks", [])
    if not isinstance(blocks, list):
        problems.append("[ERROR] expected an array [json-pointer:/view/blocks]")
    else:
        problems.extend(block_problems(blocks, limit=VIEW_BLOCK_LIMIT, pointer="/view/blocks"))
    if len(str(view.get("private_metadata", ""))) > 3000:
        problems.append(
            "[ERROR] must be at most 3000 characters [json-pointer:/view/private_metadata]"
        )
    if problems:
        raise ApiFailure("invalid_arguments", messages=problems)
    return view


# --- methods -------------------------------------------------------------------------


def auth_test(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """auth.test: who the token belongs to."""
    user = caller.user
    out: dict[str, Any] = {
        "ok": True,
        "url": f"https://{ws.team.domain}.slack.com/",
        "team": ws.team.name,
        "user": user.name,
        "team_id": ws.team.id,
        "user_id": user.id,
        "is_enterprise_install": False,
    }
    if user.bot_id:
        out["bot_id"] = user.bot_id
    return out


def chat_post_message(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """chat.postMessage: post to a channel, a user's DM, or a thread."""
    channel = _required(args, "channel", "channel_not_found")
    text, blocks = _content(args)
    if not text and not blocks:
        raise ApiFailure("no_text")
    msg = ws.post(
        caller.user,
        channel,
        text=text or "",
        blocks=blocks,
        metadata=_metadata(args),
        thread_ts=args.text("thread_ts"),
        reply_broadcast=args.flag("reply_broadcast"),
    )
    return {
        "ok": True,
        "channel": msg.channel,
        "ts": msg.ts,
        "message": render_message(ws, msg, with_metadata=True),
    }


def chat_update(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """chat.update: edit a message this caller posted."""
    channel = _required(args, "channel", "channel_not_found")
    ts = _required(args, "ts", "message_not_found")
    text, blocks = _content(args)
    msg = ws.update(caller.user, channel, ts, text=text, blocks=blocks, metadata=_metadata(args))
    return {
        "ok": True,
        "channel": msg.channel,
        "ts": msg.ts,
        "text": msg.text,
        "message": render_message(ws, msg, with_metadata=True),
    }


def chat_post_ephemeral(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """chat.postEphemeral: a message only one member of the channel sees."""
    channel = _required(args, "channel", "channel_not_found")
    user = _required(args, "user", "user_not_found")
    text, blocks = _content(args)
    if not text and not blocks:
        raise ApiFailure("no_text")
    eph = ws.post_ephemeral(
        caller.user, channel, user, text=text or "", blocks=blocks, thread_ts=args.text("thread_ts")
    )
    return {"ok": True, "message_ts": eph.ts}


def chat_get_permalink(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """chat.getPermalink: the web link of one message."""
    channel = _required(args, "channel", "channel_not_found")
    msg = ws.message(channel, _required(args, "message_ts", "message_not_found"))
    return {"ok": True, "channel": msg.channel, "permalink": permalink(ws, msg)}


def conversations_open(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """conversations.open: the caller's IM or group DM with `users` (stable per set)."""
    if args.has("channel") and not args.has("users"):
        channel, already_open = ws.channel(_required(args, "channel", "channel_not_found")), True
    else:
        channel, already_open = ws.open_conversation(caller.user, args.user_list("users"))
    shown = (
        render_channel(ws, channel, caller.user, num_members=False)
        if args.flag("return_im")
        else {"id": channel.id}
    )
    out: dict[str, Any] = {"ok": True, "channel": shown}
    if already_open:
        out.update(no_op=True, already_open=True)
    return out


def conversations_history(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """conversations.history: top-level messages newest first, cursor-paginated."""
    channel = _required(args, "channel", "channel_not_found")
    shown = _within(ws.history(caller.user, channel), args)
    limit = args.integer("limit", HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)
    if args.has("cursor"):
        position = decode_cursor(_required(args, "cursor", "invalid_cursor"))
        shown = [m for m in shown if ts_micros(m.ts) <= position]
    page, rest = shown[:limit], shown[limit:]
    out: dict[str, Any] = {
        "ok": True,
        "messages": [
            render_message(ws, m, with_metadata=args.flag("include_all_metadata")) for m in page
        ],
        "has_more": bool(rest),
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }
    if rest:
        out["response_metadata"] = {"next_cursor": encode_cursor(rest[0].ts)}
    return out


def conversations_replies(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """conversations.replies: a thread's parent (on every page) then its replies oldest first."""
    channel = _required(args, "channel", "channel_not_found")
    parent, *replies = ws.thread(caller.user, channel, _required(args, "ts", "thread_not_found"))
    replies = _within(replies, args)
    limit = args.integer("limit", REPLIES_DEFAULT_LIMIT, REPLIES_MAX_LIMIT)
    if args.has("cursor"):
        position = decode_cursor(_required(args, "cursor", "invalid_cursor"))
        replies = [m for m in replies if ts_micros(m.ts) >= position]
    page, rest = replies[:limit], replies[limit:]
    with_metadata = args.flag("include_all_metadata")
    out: dict[str, Any] = {
        "ok": True,
        "messages": [render_message(ws, m, with_metadata=with_metadata) for m in (parent, *page)],
        "has_more": bool(rest),
    }
    if rest:
        out["response_metadata"] = {"next_cursor": encode_cursor(rest[0].ts)}
    return out


def _within(messages: list[Message], args: Args) -> list[Message]:
    """Messages inside `oldest`/`latest`, exclusive unless `inclusive` (Slack's default)."""
    oldest = _ts_bound(args, "oldest", "invalid_ts_oldest")
    latest = _ts_bound(args, "latest", "invalid_ts_latest")
    inclusive = args.flag("inclusive")

    def inside(m: Message) -> bool:
        at = ts_micros(m.ts)
        after = oldest is None or at > oldest or (inclusive and at == oldest)
        before = latest is None or at < latest or (inclusive and at == latest)
        return after and before

    return [m for m in messages if inside(m)]


def conversations_info(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """conversations.info: one conversation's object."""
    channel = ws.channel(_required(args, "channel", "channel_not_found"))
    return {
        "ok": True,
        "channel": render_channel(
            ws, channel, caller.user, num_members=args.flag("include_num_members")
        ),
    }


def users_info(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """users.info: one user's object."""
    return {"ok": True, "user": render_user(ws, ws.user(_required(args, "user", "user_not_found")))}


def users_lookup_by_email(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """users.lookupByEmail: the user with this email, or `users_not_found`."""
    email = _required(args, "email", "users_not_found")
    return {"ok": True, "user": render_user(ws, ws.user_by_email(email))}


def views_open(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """views.open: open a modal for the user behind a fresh trigger_id."""
    payload = _view_payload(args)
    trigger = _required(args, "trigger_id", "invalid_trigger_id")
    return {"ok": True, "view": render_view(ws, ws.open_view(caller.user, trigger, payload))}


def views_push(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """views.push: push a modal onto the user's stack."""
    payload = _view_payload(args)
    trigger = _required(args, "trigger_id", "invalid_trigger_id")
    return {"ok": True, "view": render_view(ws, ws.push_view(caller.user, trigger, payload))}


def views_update(ws: SlackWorkspace, caller: Caller, args: Args) -> dict[str, Any]:
    """views.update: replace a view by view_id or external_id, guarded by `hash`."""
    payload = _view_payload(args)
    view_id, external_id = args.text("view_id"), args.text("external_id")
    if view_id is None and external_id is None:
        raise ApiFailure(
            "invalid_arguments", messages=["[ERROR] either view_id or external_id is required"]
        )
    view = ws.update_view(view_id, external_id, payload, args.text("hash"))
    return {"ok": True, "view": render_view(ws, view)}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.info": conversations_info,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
}
