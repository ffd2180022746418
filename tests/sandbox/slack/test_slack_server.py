"""The Slack stand-in as the real slack_sdk WebClient (and raw HTTP) sees it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.faults import Fault, FaultKind
from sandbox.slack import (
    EXAMPLE_WORKSPACE,
    RemoteSlackSandbox,
    SlackSandbox,
    SlackSandboxControl,
)
from tests.sandbox.slack.helpers import (
    BOT,
    ELENA,
    GOVERNANCE,
    PRIYA,
    QA,
    TOMAS,
    ManualClock,
    web_client,
)

TS = re.compile(r"^\d{10}\.\d{6}$")


def refusal(call: Any) -> tuple[int, dict[str, Any]]:
    """HTTP status and body of a call slack_sdk raised SlackApiError for."""
    with pytest.raises(SlackApiError) as caught:
        call()
    data = caught.value.response.data
    assert isinstance(data, dict)
    return caught.value.response.status_code, data


def section(text: str) -> dict[str, Any]:
    """A minimal valid section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


class TestWire:
    """Authentication, argument encodings, headers and unknown methods."""

    def test_missing_token_is_not_authed_with_http_200(self, slack: SlackSandbox) -> None:
        """No token at all: HTTP 200, ok false, not_authed."""
        assert refusal(lambda: web_client(slack, token="").auth_test()) == (
            200,
            {"ok": False, "error": "not_authed"},
        )

    def test_unknown_token_is_invalid_auth(self, slack: SlackSandbox) -> None:
        """A token the workspace never issued: invalid_auth."""
        assert refusal(lambda: web_client(slack, token="xoxb-forged").auth_test()) == (
            200,
            {"ok": False, "error": "invalid_auth"},
        )

    def test_auth_test_names_the_bot(self, slack: SlackSandbox) -> None:
        """auth.test says who the bot token acts as."""
        data = web_client(slack).auth_test().data
        assert isinstance(data, dict)
        assert (data["user_id"], data["bot_id"], data["team_id"]) == (
            BOT.id,
            BOT.bot_id,
            EXAMPLE_WORKSPACE.team.id,
        )

    def test_unknown_method_is_http_200_unknown_method(self, slack: SlackSandbox) -> None:
        """A name Slack has no method by: HTTP 200 with req_method, as Slack answers."""
        assert refusal(lambda: web_client(slack).api_call("foo.bar")) == (
            200,
            {"ok": False, "error": "unknown_method", "req_method": "foo.bar"},
        )

    def test_answers_carry_slack_headers(self, slack: SlackSandbox) -> None:
        """JSON with charset and an X-Slack-Req-Id on every answer."""
        response = web_client(slack).auth_test()
        headers = {k.lower(): v for k, v in response.headers.items()}
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-slack-req-id"])

    def test_token_in_a_form_field_authenticates(self, slack: SlackSandbox) -> None:
        """Slack still takes `token` as a form field."""
        response = httpx.post(f"{slack.api_url}auth.test", data={"token": slack.bot_token})
        assert response.json()["ok"] is True

    def test_token_in_a_json_body_does_not(self, slack: SlackSandbox) -> None:
        """In a JSON body the token must be in the Authorization header."""
        response = httpx.post(f"{slack.api_url}auth.test", json={"token": slack.bot_token})
        assert response.json() == {"ok": False, "error": "not_authed"}

    def test_json_without_charset_gets_slack_warning(self, slack: SlackSandbox) -> None:
        """Slack warns `missing_charset` when a JSON body's Content-Type has no charset."""
        response = httpx.post(
            f"{slack.api_url}chat.postMessage",
            content=json.dumps({"channel": QA.id, "text": "hi"}),
            headers={
                "Authorization": f"Bearer {slack.bot_token}",
                "Content-Type": "application/json",
            },
        )
        body = response.json()
        assert body["ok"] is True and body["warning"] == "missing_charset"
        assert body["response_metadata"]["warnings"] == ["missing_charset"]

    def test_multipart_form_is_read(self, slack: SlackSandbox) -> None:
        """Multipart bodies (slack_sdk's file uploads) carry arguments too."""
        response = httpx.post(
            f"{slack.api_url}chat.postMessage",
            files={"channel": (None, QA.id), "text": (None, "from multipart")},
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        )
        assert response.json()["ok"] is True
        assert slack.messages(QA.id)[-1].text == "from multipart"

    def test_broken_json_is_invalid_json(self, slack: SlackSandbox) -> None:
        """A body that is not JSON at all: invalid_json."""
        response = httpx.post(
            f"{slack.api_url}chat.postMessage",
            content=b"{nope",
            headers={
                "Authorization": f"Bearer {slack.bot_token}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        assert response.json() == {"ok": False, "error": "invalid_json"}

    def test_slack_sdk_sends_chat_as_json_and_lookups_as_forms(self, slack: SlackSandbox) -> None:
        """What API-FACTS says goes out: chat.* in JSON, users.lookupByEmail as a form."""
        client = web_client(slack)
        client.chat_postMessage(channel=QA.id, text="x")
        client.users_lookupByEmail(email=PRIYA.email or "")
        post, lookup = slack.calls("chat.postMessage")[0], slack.calls("users.lookupByEmail")[0]
        assert post.args == {"channel": QA.id, "text": "x"}
        assert lookup.args == {"email": PRIYA.email}


class TestPostMessage:
    """chat.postMessage into channels, DMs and threads, and its refusals."""

    def test_post_records_message_with_blocks_and_metadata(self, slack: SlackSandbox) -> None:
        """The stand-in keeps who posted what, with blocks and metadata."""
        metadata = {"event_type": "govflow_card", "event_payload": {"request": "MOD-1"}}
        response = web_client(slack).chat_postMessage(
            channel=QA.id, text="Sign-off needed", blocks=[section("*MOD-1*")], metadata=metadata
        )
        assert response["channel"] == QA.id and TS.match(response["ts"])
        assert response["message"]["metadata"] == metadata
        [message] = slack.messages(QA.id)
        assert (message.user, message.bot_id, message.text) == (
            BOT.id,
            BOT.bot_id,
            "Sign-off needed",
        )
        assert message.blocks == [section("*MOD-1*")] and message.metadata == metadata

    def test_ts_are_unique_and_increasing(self, slack: SlackSandbox) -> None:
        """Every ts differs and grows, in Slack's 10.6-digit format."""
        client = web_client(slack)
        stamps = [client.chat_postMessage(channel=QA.id, text=str(i))["ts"] for i in range(20)]
        assert all(TS.match(ts) for ts in stamps)
        assert stamps == sorted(stamps) and len(set(stamps)) == 20

    def test_user_id_posts_into_the_dm(self, slack: SlackSandbox) -> None:
        """A user id as channel lands in the app's DM with them, same as conversations.open."""
        client = web_client(slack)
        posted = client.chat_postMessage(channel=PRIYA.id, text="Your request is in")
        opened = client.conversations_open(users=[PRIYA.id])
        assert posted["channel"].startswith("D") and posted["channel"] == opened["channel"]["id"]
        assert opened["already_open"] is True
        assert [m.text for m in slack.messages(posted["channel"])] == ["Your request is in"]

    def test_thread_reply_updates_parent_and_stays_out_of_history(
        self, slack: SlackSandbox
    ) -> None:
        """A reply has thread_ts; the parent counts it; history shows only the parent."""
        client = web_client(slack)
        root = client.chat_postMessage(channel=QA.id, text="root")["ts"]
        reply = client.chat_postMessage(channel=QA.id, text="reply", thread_ts=root)
        assert reply["message"]["thread_ts"] == root
        assert reply["message"]["parent_user_id"] == BOT.id
        [parent] = client.conversations_history(channel=QA.id)["messages"]
        assert (parent["ts"], parent["reply_count"], parent["latest_reply"]) == (
            root,
            1,
            reply["ts"],
        )
        assert [m.text for m in slack.thread(QA.id, root)] == ["root", "reply"]

    def test_reply_to_unknown_thread_is_refused(self, slack: SlackSandbox) -> None:
        """thread_ts must name a message of that channel."""
        assert refusal(
            lambda: web_client(slack).chat_postMessage(
                channel=QA.id, text="x", thread_ts="1000000000.000001"
            )
        )[1]["error"] == ("thread_not_found")

    @pytest.mark.parametrize(
        ("arguments", "error"),
        [
            ({"channel": QA.id}, "no_text"),
            ({"channel": QA.id, "text": "x" * 40_001}, "msg_too_long"),
            ({"channel": "C0NOPE0001", "text": "x"}, "channel_not_found"),
            ({"channel": QA.id, "blocks": [{"text": "no type"}]}, "invalid_blocks"),
            ({"channel": QA.id, "blocks": [section(str(i)) for i in range(51)]}, "invalid_blocks"),
            ({"channel": QA.id, "blocks": [{"type": "section"}]}, "invalid_blocks"),
            ({"channel": QA.id, "blocks": {"type": "section"}}, "invalid_blocks_format"),
            (
                {"channel": QA.id, "text": "x", "metadata": {"event_type": "e"}},
                "invalid_metadata_format",
            ),
        ],
    )
    def test_refusals(self, slack: SlackSandbox, arguments: dict[str, Any], error: str) -> None:
        """Malformed posts are refused with Slack's error code and nothing is recorded."""
        status, body = refusal(
            lambda: web_client(slack).api_call("chat.postMessage", json=arguments)
        )
        assert (status, body["error"]) == (200, error)
        assert slack.messages(QA.id) == []

    def test_invalid_blocks_says_where(self, slack: SlackSandbox) -> None:
        """Slack points at the offending block in response_metadata.messages."""
        _, body = refusal(
            lambda: web_client(slack).chat_postMessage(
                channel=QA.id, text="x", blocks=[section("ok"), {"text": "no type"}]
            )
        )
        assert body["response_metadata"]["messages"] == [
            "[ERROR] missing required field: type [json-pointer:/blocks/1]"
        ]

    def test_bot_outside_the_channel_is_not_in_channel(self, slack: SlackSandbox) -> None:
        """The bot may only post where it is a member."""
        slack.add_channel("C0PRIV0001", "private-no-bot", members=[PRIYA.id])
        assert (
            refusal(lambda: web_client(slack).chat_postMessage(channel="C0PRIV0001", text="x"))[1][
                "error"
            ]
            == "not_in_channel"
        )


class TestUpdateAndEphemeral:
    """chat.update keeps history; chat.postEphemeral is private; chat.getPermalink links."""

    def test_update_replaces_and_keeps_edit_history(self, slack: SlackSandbox) -> None:
        """The message changes in place; the old version is kept in `edits`."""
        client = web_client(slack)
        ts = client.chat_postMessage(channel=QA.id, text="pending", blocks=[section("v1")])["ts"]
        updated = client.chat_update(channel=QA.id, ts=ts, text="approved", blocks=[section("v2")])
        assert updated["text"] == "approved" and updated["message"]["edited"]["user"] == BOT.id
        [message] = slack.messages(QA.id)
        assert (message.text, message.blocks) == ("approved", [section("v2")])
        assert [(e.text, e.blocks) for e in message.edits] == [("pending", [section("v1")])]

    def test_update_of_missing_message(self, slack: SlackSandbox) -> None:
        """An unknown ts: message_not_found."""
        assert (
            refusal(
                lambda: web_client(slack).chat_update(
                    channel=QA.id, ts="1000000000.000001", text="x"
                )
            )[1]["error"]
            == "message_not_found"
        )

    def test_update_of_someone_elses_message(self, slack: SlackSandbox) -> None:
        """The app may not edit what a person wrote: cant_update_message."""
        human = slack.post_as_user(QA.id, PRIYA.id, "I typed this")
        assert (
            refusal(lambda: web_client(slack).chat_update(channel=QA.id, ts=human.ts, text="x"))[1][
                "error"
            ]
            == "cant_update_message"
        )

    def test_ephemeral_is_only_for_its_user(self, slack: SlackSandbox) -> None:
        """Recorded for the one user, absent from history and other users' view."""
        ts = web_client(slack).chat_postEphemeral(
            channel=QA.id, user=TOMAS.id, text="You may not approve your own request"
        )
        assert TS.match(ts["message_ts"])
        [shown] = slack.ephemerals(user=TOMAS.id)
        assert (shown.channel, shown.text) == (QA.id, "You may not approve your own request")
        assert slack.ephemerals(user=PRIYA.id) == [] and slack.messages(QA.id) == []

    def test_ephemeral_to_a_non_member(self, slack: SlackSandbox) -> None:
        """The user must be in the channel: user_not_in_channel."""
        assert (
            refusal(
                lambda: web_client(slack).chat_postEphemeral(channel=QA.id, user=ELENA.id, text="x")
            )[1]["error"]
            == "user_not_in_channel"
        )

    def test_permalink_of_a_reply_names_its_thread(self, slack: SlackSandbox) -> None:
        """Permalinks follow Slack's /archives/<channel>/p<ts> form."""
        client = web_client(slack)
        root = client.chat_postMessage(channel=QA.id, text="root")["ts"]
        reply = client.chat_postMessage(channel=QA.id, text="r", thread_ts=root)["ts"]
        link = client.chat_getPermalink(channel=QA.id, message_ts=reply)["permalink"]
        assert link == (
            f"https://example-marketplace.slack.com/archives/{QA.id}/"
            f"p{reply.replace('.', '')}?thread_ts={root}&cid={QA.id}"
        )


class TestConversations:
    """conversations.open/history/replies/info."""

    def test_open_is_stable_per_user_set(self, slack: SlackSandbox) -> None:
        """The same people get the same conversation; different people another."""
        client = web_client(slack)
        first = client.conversations_open(users=PRIYA.id)["channel"]["id"]
        assert client.conversations_open(users=[PRIYA.id])["channel"]["id"] == first
        assert client.conversations_open(users=TOMAS.id)["channel"]["id"] != first
        group = client.conversations_open(users=[PRIYA.id, TOMAS.id])["channel"]["id"]
        assert group.startswith("G")

    def test_history_pages_with_cursor_newest_first(self, slack: SlackSandbox) -> None:
        """limit + next_cursor walk every top-level message exactly once."""
        client = web_client(slack)
        posted = [client.chat_postMessage(channel=QA.id, text=str(i))["ts"] for i in range(7)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = client.conversations_history(channel=QA.id, limit=3, cursor=cursor)
            pages += 1
            seen += [m["ts"] for m in page["messages"]]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            assert page["has_more"] is bool(cursor)
            if not cursor:
                break
        assert pages == 3 and seen == posted[::-1]

    def test_history_bounds_are_exclusive_unless_inclusive(self, slack: SlackSandbox) -> None:
        """oldest/latest exclude the bound itself unless inclusive=true."""
        client = web_client(slack)
        a, b, c = (client.chat_postMessage(channel=QA.id, text=t)["ts"] for t in "abc")

        def between(**kw: Any) -> list[str]:
            return [
                m["text"] for m in client.conversations_history(channel=QA.id, **kw)["messages"]
            ]

        assert between(oldest=a, latest=c) == ["b"]
        assert between(oldest=a, latest=c, inclusive=True) == ["c", "b", "a"]
        assert between(oldest=b) == ["c"]

    def test_metadata_only_with_include_all_metadata(self, slack: SlackSandbox) -> None:
        """History hides message metadata unless asked for it."""
        client = web_client(slack)
        client.chat_postMessage(
            channel=QA.id, text="x", metadata={"event_type": "e", "event_payload": {"k": 1}}
        )
        plain = client.conversations_history(channel=QA.id)["messages"][0]
        full = client.conversations_history(channel=QA.id, include_all_metadata=True)["messages"][0]
        assert "metadata" not in plain and full["metadata"]["event_payload"] == {"k": 1}

    def test_replies_page_with_the_parent_first_on_each_page(self, slack: SlackSandbox) -> None:
        """conversations.replies: parent, then replies oldest first, cursor-paginated."""
        client = web_client(slack)
        root = client.chat_postMessage(channel=QA.id, text="root")["ts"]
        replies = [
            client.chat_postMessage(channel=QA.id, text=str(i), thread_ts=root)["ts"]
            for i in range(5)
        ]
        first = client.conversations_replies(channel=QA.id, ts=root, limit=3)
        cursor = first["response_metadata"]["next_cursor"]
        second = client.conversations_replies(channel=QA.id, ts=root, limit=3, cursor=cursor)
        assert [m["ts"] for m in first["messages"]] == [root, *replies[:3]]
        assert [m["ts"] for m in second["messages"]] == [root, *replies[3:]]
        assert second["has_more"] is False

    def test_bad_cursor_is_invalid_cursor(self, slack: SlackSandbox) -> None:
        """A cursor the stand-in never issued: invalid_cursor."""
        assert (
            refusal(
                lambda: web_client(slack).conversations_history(channel=QA.id, cursor="garbage!")
            )[1]["error"]
            == "invalid_cursor"
        )

    def test_history_of_channel_without_the_bot(self, slack: SlackSandbox) -> None:
        """The bot reads only channels it is in."""
        slack.add_channel("C0PRIV0002", "secret", members=[PRIYA.id])
        assert (
            refusal(lambda: web_client(slack).conversations_history(channel="C0PRIV0002"))[1][
                "error"
            ]
            == "not_in_channel"
        )

    def test_info_describes_the_channel(self, slack: SlackSandbox) -> None:
        """conversations.info: name, membership and counts."""
        channel = web_client(slack).conversations_info(
            channel=GOVERNANCE.id, include_num_members=True
        )["channel"]
        assert (channel["name"], channel["is_member"], channel["num_members"]) == (
            "governance",
            True,
            len(GOVERNANCE.members),
        )


class TestUsers:
    """users.info and users.lookupByEmail."""

    def test_lookup_by_email_ignores_case(self, slack: SlackSandbox) -> None:
        """Emails match case-insensitively."""
        user = web_client(slack).users_lookupByEmail(email="Priya.Raman@Example.com")["user"]
        assert (user["id"], user["profile"]["email"], user["tz"]) == (
            PRIYA.id,
            PRIYA.email,
            "Asia/Kolkata",
        )

    def test_lookup_of_unknown_email(self, slack: SlackSandbox) -> None:
        """Nobody has it: users_not_found."""
        assert (
            refusal(lambda: web_client(slack).users_lookupByEmail(email="nobody@example.com"))[1][
                "error"
            ]
            == "users_not_found"
        )

    def test_info_of_unknown_user(self, slack: SlackSandbox) -> None:
        """An unknown id: user_not_found."""
        assert (
            refusal(lambda: web_client(slack).users_info(user="U0NOPE0001"))[1]["error"]
            == "user_not_found"
        )

    def test_info_has_tz_offset(self, slack: SlackSandbox) -> None:
        """tz_offset follows the user's zone (Kolkata is +5:30 all year)."""
        assert web_client(slack).users_info(user=PRIYA.id)["user"]["tz_offset"] == 19_800


MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Assessment"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [section("Assess MOD-1")],
    "callback_id": "assessment",
}


class TestViews:
    """views.open/push/update with trigger_ids the stand-in issued."""

    def test_open_with_issued_trigger(self, slack: SlackSandbox) -> None:
        """A fresh trigger opens a modal for the user who clicked."""
        trigger = slack.issue_trigger_id(ELENA.id)
        view = web_client(slack).views_open(trigger_id=trigger, view=MODAL)["view"]
        [stored] = slack.views(user=ELENA.id)
        assert (stored.id, stored.payload["callback_id"]) == (view["id"], "assessment")

    def test_trigger_is_single_use_and_must_be_issued(self, slack: SlackSandbox) -> None:
        """A used trigger is exchanged_trigger_id; a made-up one invalid_trigger_id."""
        client = web_client(slack)
        trigger = slack.issue_trigger_id(ELENA.id)
        client.views_open(trigger_id=trigger, view=MODAL)
        assert (
            refusal(lambda: client.views_open(trigger_id=trigger, view=MODAL))[1]["error"]
            == "exchanged_trigger_id"
        )
        assert (
            refusal(lambda: client.views_open(trigger_id="1.2.3", view=MODAL))[1]["error"]
            == "invalid_trigger_id"
        )

    def test_trigger_expires_after_three_seconds(self) -> None:
        """Slack's 3 s window, on a hand-moved clock."""
        clock = ManualClock()
        with SlackSandbox(clock=clock) as sandbox:
            client = web_client(sandbox)
            late = sandbox.issue_trigger_id(ELENA.id)
            on_time = sandbox.issue_trigger_id(ELENA.id)
            clock.advance(2.9)
            client.views_open(trigger_id=on_time, view=MODAL)
            clock.advance(0.2)
            assert (
                refusal(lambda: client.views_open(trigger_id=late, view=MODAL))[1]["error"]
                == "expired_trigger_id"
            )

    def test_update_guards_with_hash(self, slack: SlackSandbox) -> None:
        """views.update with the current hash works; with a stale one is hash_conflict."""
        client = web_client(slack)
        view = client.views_open(trigger_id=slack.issue_trigger_id(ELENA.id), view=MODAL)["view"]
        changed = {**MODAL, "blocks": [section("changed")]}
        updated = client.views_update(view_id=view["id"], hash=view["hash"], view=changed)["view"]
        assert updated["blocks"] == [section("changed")] and updated["hash"] != view["hash"]
        assert (
            refusal(lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL))[
                1
            ]["error"]
            == "hash_conflict"
        )

    def test_push_stacks_at_most_three(self, slack: SlackSandbox) -> None:
        """views.push builds on the root; a fourth view is push_limit_reached."""
        client = web_client(slack)
        root = client.views_open(trigger_id=slack.issue_trigger_id(ELENA.id), view=MODAL)
        for _ in range(2):
            pushed = client.views_push(trigger_id=slack.issue_trigger_id(ELENA.id), view=MODAL)
            assert pushed["view"]["root_view_id"] == root["view"]["id"]
        assert refusal(
            lambda: client.views_push(trigger_id=slack.issue_trigger_id(ELENA.id), view=MODAL)
        )[1]["error"] == ("push_limit_reached")

    def test_modal_without_title_is_invalid_arguments(self, slack: SlackSandbox) -> None:
        """A modal needs a title of at most 24 characters."""
        bad = {k: v for k, v in MODAL.items() if k != "title"}
        assert refusal(
            lambda: web_client(slack).views_open(
                trigger_id=slack.issue_trigger_id(ELENA.id), view=bad
            )
        )[1]["error"] == ("invalid_arguments")


class TestFaults:
    """FaultPlan faults rendered the way Slack's edge renders them."""

    def test_rate_limit_is_429_with_retry_after(self, slack: SlackSandbox) -> None:
        """429, Retry-After, and `ratelimited` in a JSON body."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.RATE_LIMIT, retry_after=7))
        with pytest.raises(SlackApiError) as caught:
            web_client(slack).chat_postMessage(channel=QA.id, text="x")
        response = caught.value.response
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.data == {"ok": False, "error": "ratelimited"}
        assert slack.messages(QA.id) == []

    def test_server_error_has_that_status_and_no_json(self, slack: SlackSandbox) -> None:
        """A 5xx answers an HTML page, as Slack's edge does."""
        slack.add_fault("*", Fault(FaultKind.SERVER_ERROR, status=502))
        response = httpx.post(
            f"{slack.api_url}auth.test", headers={"Authorization": f"Bearer {slack.bot_token}"}
        )
        assert response.status_code == 502 and response.text.startswith("<html>")

    def test_latency_delays_then_answers(self, slack: SlackSandbox) -> None:
        """A slow answer is still the right answer."""
        slack.add_fault("auth.test", Fault(FaultKind.LATENCY, delay=0.3))
        started = time.monotonic()
        assert web_client(slack).auth_test()["ok"] is True
        assert time.monotonic() - started >= 0.3

    def test_reset_drops_the_connection_unanswered(self, slack: SlackSandbox) -> None:
        """No status line at all, and nothing posted."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.RESET))
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.post(
                f"{slack.api_url}chat.postMessage",
                json={"channel": QA.id, "text": "x"},
                headers={"Authorization": f"Bearer {slack.bot_token}"},
            )
        assert slack.messages(QA.id) == []
        assert [(c.fault, c.http_status) for c in slack.calls()] == [("reset", None)]

    def test_lost_response_acts_then_drops(self, slack: SlackSandbox) -> None:
        """The message is posted but the answer never arrives."""
        slack.lose_responses("chat.postMessage")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.post(
                f"{slack.api_url}chat.postMessage",
                json={"channel": QA.id, "text": "x"},
                headers={"Authorization": f"Bearer {slack.bot_token}"},
            )
        assert [m.text for m in slack.messages(QA.id)] == ["x"]


class TestRemoteControl:
    """The `/_sandbox` HTTP control API, for a stand-in in another process."""

    def test_remote_control_matches_in_process(self, slack: SlackSandbox) -> None:
        """Seed, drive and inspect over HTTP what the in-process API shows."""
        remote = RemoteSlackSandbox(slack.url)
        # Both satisfy the one control protocol (checked by mypy).
        controls: list[SlackSandboxControl] = [slack, remote]
        assert {c.api_url for c in controls} == {slack.api_url}
        try:
            remote.add_user("U0ZZ00001", "zoe", real_name="Zoe Z", email="zoe@example.com")
            remote.add_channel("C0ZZ00001", "zz", members=[BOT.id, "U0ZZ00001"])
            human = remote.post_as_user("C0ZZ00001", "U0ZZ00001", "hello")
            client = web_client(slack)
            client.chat_postMessage(channel="C0ZZ00001", text="bot", thread_ts=human.ts)
            client.chat_postEphemeral(channel="C0ZZ00001", user="U0ZZ00001", text="psst")
            client.views_open(trigger_id=remote.issue_trigger_id("U0ZZ00001"), view=MODAL)
            remote.add_fault("auth.test", Fault(FaultKind.RATE_LIMIT))
            with pytest.raises(SlackApiError):
                client.auth_test()
            assert [m.text for m in remote.thread("C0ZZ00001", human.ts)] == ["hello", "bot"]
            assert remote.messages("C0ZZ00001") == slack.messages("C0ZZ00001")
            assert [e.text for e in remote.ephemerals(user="U0ZZ00001")] == ["psst"]
            assert [v.user for v in remote.views()] == ["U0ZZ00001"]
            assert [c.fault for c in remote.calls("auth.test")] == ["rate_limit"]
            remote.reset()
            assert remote.messages("C0ZZ00001") == [] and remote.calls() == []
        finally:
            remote.close()

    def test_unseeded_until_seed_examples(self) -> None:
        """seed=False starts empty; seed_examples (here over HTTP) loads the workspace."""
        with SlackSandbox(seed=False) as sandbox:
            assert refusal(lambda: web_client(sandbox).auth_test())[1]["error"] == "invalid_auth"
            remote = RemoteSlackSandbox(sandbox.url)
            assert remote.seed_examples() == EXAMPLE_WORKSPACE.bot_token
            remote.close()
            assert web_client(sandbox).auth_test()["user_id"] == BOT.id

    def test_runs_as_its_own_process(self) -> None:
        """`python -m sandbox.slack_server --port 0 --seed` serves the seeded workspace."""
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.slack_server", "--port", "0", "--seed"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            url = re.search(r"(http://127\.0\.0\.1:\d+)/api/", line)
            assert url, line
            remote = RemoteSlackSandbox(url.group(1))
            deadline = time.monotonic() + 10
            while True:
                try:
                    remote.issue_trigger_id(PRIYA.id)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            client = WebClient(EXAMPLE_WORKSPACE.bot_token, base_url=remote.api_url)
            assert client.chat_postMessage(channel=QA.id, text="from afar")["ok"] is True
            assert [m.text for m in remote.messages(QA.id)] == ["from afar"]
            remote.close()
        finally:
            process.terminate()
            process.wait(timeout=10)


class TestSeed:
    """The example workspace other modules import."""

    def test_ids_are_unique_and_members_exist(self) -> None:
        """Every member of every channel is a seeded user; ids do not repeat."""
        users = {u.id for u in (EXAMPLE_WORKSPACE.bot, *EXAMPLE_WORKSPACE.users)}
        assert len(users) == len(EXAMPLE_WORKSPACE.users) + 1
        assert len({c.id for c in EXAMPLE_WORKSPACE.channels}) == len(EXAMPLE_WORKSPACE.channels)
        for channel in EXAMPLE_WORKSPACE.channels:
            assert set(channel.members) <= users and BOT.id in channel.members

    def test_people_have_example_emails_and_every_team_a_channel(self) -> None:
        """A dozen people at example.com; QA, BPO, Product, Algorithm, Governance, Merchant."""
        assert len(EXAMPLE_WORKSPACE.users) == 12
        assert all((u.email or "").endswith("@example.com") for u in EXAMPLE_WORKSPACE.users)
        for team in ("qa", "bpo", "product", "algorithm", "governance", "merchant"):
            members = {u.id for u in EXAMPLE_WORKSPACE.team_members(team)}
            assert members and any(
                members <= set(c.members) and len(c.members) < 12
                for c in EXAMPLE_WORKSPACE.channels
            )
        names = {c.name for c in EXAMPLE_WORKSPACE.channels}
        assert {"listing-experts", "onboarding-experts", "training-announcements"} <= names
