"""Socket Mode: the same handlers, reached over the Slack stand-in's WebSocket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.slack.action_ids import ActionId
from integrations.slack.receiver import socket_mode_handler
from tests.receiver.support import (
    HANNAH,
    PRODUCT_CHANNEL,
    SIGNING_SECRET,
    Stack,
    events,
    make_request,
    post_approval_card,
)
from tests.support.waiting import eventually


@pytest.fixture
def socket_stack(stack: Stack) -> Iterator[Stack]:
    """The stack with Slack delivering over a Socket Mode connection instead of HTTP."""
    token = stack.slack.add_app_token()
    stack.slack.configure_receiver(None, SIGNING_SECRET)
    handler = socket_mode_handler(stack.app.state.bolt, token)
    handler.connect()
    try:
        stack.slack.socket.wait_connected()
        yield stack
    finally:
        # slack_sdk's client takes a few seconds to shut its threads down.
        handler.close()


class TestSocketMode:
    """Envelopes in, acks out, the event recorded as over HTTP."""

    def test_click_round_trip(self, socket_stack: Stack) -> None:
        """A click delivered as an envelope is acked and recorded once."""
        request_id, state = make_request(socket_stack, "MODREQ-41", signoff=True)
        ts = post_approval_card(socket_stack, state, "product", PRODUCT_CHANNEL)

        delivery = socket_stack.slack.click(PRODUCT_CHANNEL, ts, ActionId.APPROVE, HANNAH.id)

        assert delivery.transport == "socket"
        assert delivery.status == 200
        [event] = events(socket_stack)
        assert event.kind == "decide"
        calls = eventually(lambda: socket_stack.trigger.calls, timeout=5, interval=0.02)
        assert calls == [request_id]

    def test_slash_command_answer_travels_in_the_ack(self, socket_stack: Stack) -> None:
        """A command's ephemeral answer is the ack's payload."""
        delivery = socket_stack.slack.slash(HANNAH.id, "help")

        assert delivery.status == 200
        assert "Usage" in delivery.json()["text"]
