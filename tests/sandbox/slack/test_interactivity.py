"""The Slack stand-in as Slack's side of interactivity: signed deliveries, response URLs,
views submitted as Slack shapes them, and Socket Mode."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server import ThreadedServer
from sandbox.slack import RemoteSlackSandbox, SlackSandbox
from tests.sandbox.slack.helpers import BOT, PRIYA, QA, TOMAS, web_client

SECRET = "stand-in-test-secret"
BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Sign-off"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": '{"k":"MODREQ-1","r":1}',
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "approve_for",
                "text": {"type": "plain_text", "text": "For Priya"},
                "value": "for-priya",
            },
        ],
    },
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approve_for",
                "text": {"type": "plain_text", "text": "For Tomas"},
                "value": "for-tomas",
            },
        ],
    },
]
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "form",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Send"},
    "private_metadata": "meta",
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "why_text"},
        },
        {
            "type": "input",
            "block_id": "risk",
            "label": {"type": "plain_text", "text": "Risk"},
            "element": {
                "type": "static_select",
                "action_id": "risk_pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "LOW"},
                    {"text": {"type": "plain_text", "text": "High"}, "value": "HIGH"},
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "Low"}, "value": "LOW"},
            },
        },
        {
            "type": "input",
            "block_id": "sops",
            "label": {"type": "plain_text", "text": "SOPs"},
            "element": {
                "type": "multi_static_select",
                "action_id": "sops_pick",
                "option_groups": [
                    {
                        "label": {"type": "plain_text", "text": "Listing"},
                        "options": [
                            {"text": {"type": "plain_text", "text": "One"}, "value": "SOP-1"},
                            {"text": {"type": "plain_text", "text": "Two"}, "value": "SOP-2"},
                        ],
                    }
                ],
            },
        },
    ],
}


@dataclass
class Received:
    """What a fake app received: headers and raw bodies, in order."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: tuple[int, str] = (200, "")
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def app() -> Iterator[tuple[str, Received]]:
    """A fake Slack app: records each delivery and answers as told."""
    received = Received()

    async def events(request: Request) -> Response:
        body = await request.body()
        with received.lock:
            received.requests.append((dict(request.headers), body))
        status, text = received.answer
        return Response(text, status_code=status, media_type="application/json")

    with ThreadedServer(Starlette(routes=[Route("/slack/events", events, methods=["POST"])])) as s:
        yield f"{s.url}/slack/events", received


@pytest.fixture
def wired(
    slack: SlackSandbox, app: tuple[str, Received]
) -> Iterator[tuple[SlackSandbox, Received]]:
    """The stand-in delivering to the fake app."""
    url, received = app
    slack.configure_receiver(url, SECRET)
    yield slack, received
    slack.configure_receiver(None, "")


def payload_of(body: bytes) -> dict[str, Any]:
    """The JSON in a delivered `payload=` form."""
    decoded: dict[str, Any] = json.loads(dict(parse_qsl(body.decode()))["payload"])
    return decoded


def post_card(slack: SlackSandbox) -> str:
    """The bot posts a card with buttons in #qa-signoff; returns its ts."""
    return str(web_client(slack).chat_postMessage(channel=QA.id, text="card", blocks=BUTTONS)["ts"])


class TestClicks:
    """Clicks are built from the stored message and signed like Slack's."""

    def test_click_carries_the_buttons_own_ids_and_value(
        self, wired: tuple[SlackSandbox, Received]
    ) -> None:
        """block_id, action_id and value come from the message; container points at it."""
        slack, received = wired
        ts = post_card(slack)

        delivery = slack.click(QA.id, ts, "approve", PRIYA.id)

        assert delivery.status == 200 and delivery.transport == "http"
        headers, body = received.requests[-1]
        payload = payload_of(body)
        [action] = payload["actions"]
        assert (action["block_id"], action["action_id"]) == ("decide", "approve")
        assert action["value"] == '{"k":"MODREQ-1","r":1}'
        assert payload["type"] == "block_actions"
        assert payload["user"]["id"] == PRIYA.id
        assert payload["container"] == {
            "type": "message",
            "message_ts": ts,
            "channel_id": QA.id,
            "is_ephemeral": False,
        }
        assert payload["message"]["ts"] == ts
        assert payload["message"]["blocks"][0]["block_id"]  # Slack fills missing block ids
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        verifier = SignatureVerifier(SECRET)
        assert verifier.is_valid_request(body, headers)

    def test_value_picks_among_buttons_sharing_an_action_id(
        self, wired: tuple[SlackSandbox, Received]
    ) -> None:
        """Two "approve_for" buttons: the value says which one was clicked."""
        slack, received = wired
        ts = post_card(slack)

        slack.click(QA.id, ts, "approve_for", PRIYA.id, value="for-tomas")

        assert payload_of(received.requests[-1][1])["actions"][0]["value"] == "for-tomas"
        with pytest.raises(ValueError, match="pass value"):
            slack.click(QA.id, ts, "approve_for", PRIYA.id)
        with pytest.raises(ValueError, match="no button"):
            slack.click(QA.id, ts, "reject", PRIYA.id)

    def test_trigger_id_opens_one_view_within_three_seconds(
        self, wired: tuple[SlackSandbox, Received]
    ) -> None:
        """The click's trigger_id works for views.open once."""
        slack, received = wired
        slack.click(QA.id, post_card(slack), "approve", PRIYA.id)
        trigger = payload_of(received.requests[-1][1])["trigger_id"]
        client = web_client(slack)

        client.views_open(trigger_id=trigger, view=MODAL)

        with pytest.raises(SlackApiError) as again:
            client.views_open(trigger_id=trigger, view=MODAL)
        assert again.value.response["error"] == "exchanged_trigger_id"

    def test_stale_wrong_secret_and_retry_options(
        self, wired: tuple[SlackSandbox, Received]
    ) -> None:
        """A stale timestamp, a wrong secret, and a retry with the identical body."""
        slack, received = wired
        ts = post_card(slack)
        verifier = SignatureVerifier(SECRET)

        first = slack.click(QA.id, ts, "approve", PRIYA.id)
        slack.click(QA.id, ts, "approve", PRIYA.id, timestamp=int(time.time()) - 600)
        slack.click(QA.id, ts, "approve", PRIYA.id, signing_secret="wrong")
        slack.redeliver(first, retry_num=2)

        (h1, b1), (h2, b2), (h3, b3), (h4, b4) = received.requests[-4:]
        assert verifier.is_valid_request(b1, h1)
        assert not verifier.is_valid_request(b2, h2)  # stale
        assert int(h2["x-slack-request-timestamp"]) < time.time() - 500
        assert not verifier.is_valid_request(b3, h3)
        assert b4 == b1
        assert h4["x-slack-retry-num"] == "2"
        assert h4["x-slack-retry-reason"] == "http_timeout"
        assert verifier.is_valid_request(b4, h4)

    def test_delivery_reports_answer_and_time(self, wired: tuple[SlackSandbox, Received]) -> None:
        """The app's status and body come back with the elapsed time."""
        slack, received = wired
        received.answer = (400, '{"error": "nope"}')

        delivery = slack.click(QA.id, post_card(slack), "approve", PRIYA.id)

        assert delivery.status == 400
        assert delivery.json() == {"error": "nope"}
        assert 0 < delivery.elapsed < 3

    def test_no_receiver_configured(self, slack: SlackSandbox) -> None:
        """Without a Request URL (and no socket) there is nowhere to deliver."""
        with pytest.raises(RuntimeError, match="no receiver"):
            slack.click(QA.id, post_card(slack), "approve", PRIYA.id)


class TestResponseUrl:
    """response_url serves at most five posts and shows them as Slack would."""

    def test_five_uses_then_used_url(self, wired: tuple[SlackSandbox, Received]) -> None:
        """Ephemeral answers reach the clicker; the sixth post is refused."""
        slack, received = wired
        slack.click(QA.id, post_card(slack), "approve", PRIYA.id)
        url = payload_of(received.requests[-1][1])["response_url"]
        hook = WebhookClient(url)

        statuses = [
            hook.send(text=f"n{i}", response_type="ephemeral").status_code for i in range(6)
        ]

        assert statuses == [200] * 5 + [404]
        assert [e.text for e in slack.ephemerals(user=PRIYA.id)] == [f"n{i}" for i in range(5)]
        assert slack.response_posts(user=PRIYA.id)[-1].answer == "used_url"

    def test_replace_original(self, wired: tuple[SlackSandbox, Received]) -> None:
        """replace_original rewrites the clicked message."""
        slack, received = wired
        ts = post_card(slack)
        slack.click(QA.id, ts, "approve", PRIYA.id)
        url = payload_of(received.requests[-1][1])["response_url"]

        WebhookClient(url).send(text="Approved by Priya", replace_original=True)

        [message] = [m for m in slack.messages(QA.id) if m.ts == ts]
        assert message.text == "Approved by Priya"


class TestViewSubmission:
    """Submissions come from the view the app opened, keyed by its own ids."""

    def open_modal(self, slack: SlackSandbox, received: Received) -> str:
        slack.click(QA.id, post_card(slack), "approve", PRIYA.id)
        trigger = payload_of(received.requests[-1][1])["trigger_id"]
        return str(web_client(slack).views_open(trigger_id=trigger, view=MODAL)["view"]["id"])

    def test_values_take_each_elements_shape(self, wired: tuple[SlackSandbox, Received]) -> None:
        """Text, select and multi-select values as Slack puts them in state.values."""
        slack, received = wired
        view_id = self.open_modal(slack, received)

        slack.submit_view(view_id, PRIYA.id, {"why": "because", "sops": ["SOP-2"]})

        payload = payload_of(received.requests[-1][1])
        assert payload["type"] == "view_submission"
        assert payload["view"]["id"] == view_id
        assert payload["view"]["callback_id"] == "form"
        assert payload["view"]["private_metadata"] == "meta"
        values = payload["view"]["state"]["values"]
        assert values["why"] == {"why_text": {"type": "plain_text_input", "value": "because"}}
        assert values["risk"]["risk_pick"]["selected_option"]["value"] == "LOW"  # initial
        assert values["sops"]["sops_pick"] == {
            "type": "multi_static_select",
            "selected_options": [{"text": {"type": "plain_text", "text": "Two"}, "value": "SOP-2"}],
        }

    def test_empty_text_is_null_and_bad_choices_are_refused(
        self, wired: tuple[SlackSandbox, Received]
    ) -> None:
        """An emptied input is null; an option the view does not offer cannot be sent."""
        slack, received = wired
        view_id = self.open_modal(slack, received)

        slack.submit_view(view_id, PRIYA.id, {"why": ""})

        values = payload_of(received.requests[-1][1])["view"]["state"]["values"]
        assert values["why"]["why_text"]["value"] is None
        with pytest.raises(ValueError, match="no option"):
            slack.submit_view(view_id, PRIYA.id, {"risk": "MEDIUM"})
        with pytest.raises(ValueError, match="no input blocks"):
            slack.submit_view(view_id, PRIYA.id, {"nope": "x"})


class TestSlash:
    """Slash commands as Slack posts them."""

    def test_fields(self, wired: tuple[SlackSandbox, Received]) -> None:
        """Form fields: command, text, user, channel, response_url, trigger_id."""
        slack, received = wired

        slack.slash(TOMAS.id, "status MODREQ-1", channel=QA.id)

        fields = dict(parse_qsl(received.requests[-1][1].decode()))
        assert fields["command"] == "/govflow"
        assert fields["text"] == "status MODREQ-1"
        assert (fields["user_id"], fields["channel_id"]) == (TOMAS.id, QA.id)
        assert fields["response_url"].startswith(slack.url + "/actions/")


class TestSocketMode:
    """apps.connections.open and envelopes over the stand-in's WebSocket."""

    def test_connections_open_needs_an_app_token(self, slack: SlackSandbox) -> None:
        """A bot token is refused; an app token gets a ws:// URL on the stand-in."""
        token = slack.add_app_token()

        with pytest.raises(SlackApiError) as refused:
            web_client(slack).apps_connections_open(app_token=slack.bot_token)
        answer = web_client(slack).apps_connections_open(app_token=token)

        assert refused.value.response["error"] == "not_allowed_token_type"
        assert answer["url"].startswith(f"ws://127.0.0.1:{slack.url.rsplit(':', 1)[1]}/link/")

    def test_envelope_round_trip_with_slack_sdk_client(self, slack: SlackSandbox) -> None:
        """slack_sdk's SocketModeClient receives a click envelope and its ack comes back."""
        token = slack.add_app_token()
        client = SocketModeClient(app_token=token, web_client=web_client(slack))
        seen: list[SocketModeRequest] = []

        def listener(c: BaseSocketModeClient, request: SocketModeRequest) -> None:
            seen.append(request)
            c.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "ok"})
            )

        client.socket_mode_request_listeners.append(listener)
        client.connect()
        try:
            slack.socket.wait_connected()
            delivery = slack.click(QA.id, post_card(slack), "approve", PRIYA.id)
        finally:
            client.close()

        assert delivery.transport == "socket"
        assert delivery.status == 200
        assert delivery.json() == {"text": "ok"}
        assert seen[0].type == "interactive"
        assert seen[0].payload["actions"][0]["action_id"] == "approve"


class TestRemoteControl:
    """The same driving over `/_sandbox/...`, for a stand-in in another process."""

    def test_click_over_http(self, wired: tuple[SlackSandbox, Received]) -> None:
        """configure_receiver, click and response_posts through RemoteSlackSandbox."""
        slack, received = wired
        remote = RemoteSlackSandbox(slack.url)
        try:
            remote.configure_receiver(slack.interactivity.receiver_url, SECRET)
            ts = post_card(slack)
            delivery = remote.click(QA.id, ts, "approve", PRIYA.id)
            again = remote.redeliver(delivery)
            slash = remote.slash(BOT.id, "help", channel=QA.id)
        finally:
            remote.close()

        assert delivery.status == 200 and again.status == 200 and slash.status == 200
        assert received.requests[-2][1] == received.requests[-3][1]
        assert received.requests[-2][0]["x-slack-retry-num"] == "1"
