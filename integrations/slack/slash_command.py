"""`/govflow ooo|status|help`, parsed from Slack's slash-command form, and its usage text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain.errors import PayloadInvalid
from integrations.slack.payload_fields import (
    CHANNEL_ID,
    JIRA_KEY,
    TRIGGER_ID,
    URL,
    USER_ID,
    WORKSPACE_ID,
    bounded,
    optional_id,
    required_id,
)


class SlashKind(StrEnum):
    """What `/govflow` was asked to do."""

    OOO = "ooo"
    STATUS = "status"
    HELP = "help"


@dataclass(frozen=True)
class SlashCommand:
    """A parsed `/govflow` command.

    `ooo`: the issuing user is away until `until` (inclusive) and `delegate_id` acts for
    them; `start` None means "from today", which the caller reads from its own clock.
    `status`: `jira_key` is the request asked about.
    """

    kind: SlashKind
    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    delegate_id: str | None = None
    start: date | None = None
    until: date | None = None
    jira_key: str | None = None


USAGE = "\n".join(
    [
        "Usage:",
        "• `/govflow ooo @colleague until 2026-12-24`: you are away until that date "
        "(inclusive) and @colleague decides for you meanwhile",
        "• `/govflow ooo @colleague from 2026-12-20 until 2026-12-24`: the same, starting later",
        "• `/govflow status MODREQ-12`: where a request stands",
        "• `/govflow help`: this text",
    ]
)


def parse_slash_command(form: Mapping[str, str]) -> SlashCommand:
    """`/govflow ooo|status|help` from Slack's slash-command form; PayloadInvalid with usage."""
    if not isinstance(form, Mapping):
        raise PayloadInvalid("a slash command arrives as a form")
    user_id = required_id(form.get("user_id"), USER_ID, "user_id")
    context: dict[str, Any] = {
        "user_id": user_id,
        "team_id": optional_id(form.get("team_id"), WORKSPACE_ID, "team_id"),
        "channel_id": optional_id(form.get("channel_id"), CHANNEL_ID, "channel_id"),
        "response_url": optional_id(form.get("response_url"), URL, "response_url"),
        "trigger_id": optional_id(form.get("trigger_id"), TRIGGER_ID, "trigger_id"),
    }
    text = form.get("text", "")
    if not isinstance(text, str) or len(text) > 500:
        raise PayloadInvalid(USAGE)
    words = text.split()
    verb = words[0].lower() if words else "help"
    if verb == "help" and len(words) <= 1:
        return SlashCommand(kind=SlashKind.HELP, **context)
    if verb == "status" and len(words) == 2:
        key = words[1].upper()
        if not JIRA_KEY.fullmatch(key):
            raise PayloadInvalid(_usage(f"`{_echo(words[1])}` is not a Jira key like MODREQ-12"))
        return SlashCommand(kind=SlashKind.STATUS, jira_key=key, **context)
    if verb == "ooo":
        return _ooo(words[1:], context)
    raise PayloadInvalid(USAGE)


_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|[^>]{0,100})?>|@([UW][A-Z0-9]{2,31})")


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ooo(words: list[str], context: dict[str, Any]) -> SlashCommand:
    """`ooo MENTION until DATE` or `ooo MENTION from DATE until DATE`."""
    if len(words) == 3 and words[1].lower() == "until":
        start, until = None, _date(words[2])
    elif len(words) == 5 and words[1].lower() == "from" and words[3].lower() == "until":
        start, until = _date(words[2]), _date(words[4])
    else:
        raise PayloadInvalid(USAGE)
    found = _MENTION.fullmatch(words[0])
    if found is None:
        raise PayloadInvalid(
            _usage(
                "Name your delegate by picking them from the @ list, so Slack sends their user id"
            )
        )
    delegate = found.group(1) or found.group(2)
    if delegate == context["user_id"]:
        raise PayloadInvalid(_usage("Name a colleague: you cannot stand in for yourself"))
    if start is not None and until < start:
        raise PayloadInvalid(_usage(f"{until.isoformat()} is before {start.isoformat()}"))
    return SlashCommand(
        kind=SlashKind.OOO, delegate_id=delegate, start=start, until=until, **context
    )


def _date(word: str) -> date:
    if _DATE.fullmatch(word):
        try:
            return date.fromisoformat(word)
        except ValueError:
            pass
    raise PayloadInvalid(_usage(f"`{_echo(word)}` is not a date like 2026-12-24"))


def _echo(word: str) -> str:
    """A word of the command, shortened and escaped for the ephemeral answer."""
    short = bounded(word, 40)
    return short.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _usage(problem: str) -> str:
    return f"{problem}\n\n{USAGE}"
