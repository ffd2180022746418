"""SlackGateway over HTTP against the Slack stand-in, through the real slack_sdk WebClient."""

from __future__ import annotations

import time
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View

from domain.errors import SlackError
from integrations.slack.gateway import SlackGateway
from integrations.slack.port import PostedMessage, SlackCallFailed, SlackPort
from sandbox.faults import Fault, FaultKind
from sandbox.server import bind_loopback
from sandbox.slack import SlackSandbox
from tests.integrations.slack.conftest import GatewayFactory
from tests.sandbox.slack.helpers import BOT, ELENA, PRIYA, QA, TOMAS, ManualClock

CARD = "govflow_signoff_card"


def card(request: str) -> Metadata:
    """Metadata the outbox stamps on a sign-off card."""
    return Metadata(event_type=CARD, event_payload={"request": request, "team": "qa"})


def failure(call: object) -> SlackCallFailed:
    """The SlackCallFailed a gateway call raised."""
    assert callable(call)
    with pytest.raises(SlackCallFailed) as caught:
        call()
    return caught.value


class TestMessages:
    """Posting, threading, editing and ephemerals."""

    def test_post_returns_where_it_landed(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """Block objects and Metadata arrive as Slack JSON; the result is channel + ts."""
        posted = gateway.post_message(
            QA.id, "Sign-off needed: MOD-1", [SectionBlock(text="*MOD-1*")], metadata=card("MOD-1")
        )
        [message] = slack.messages(QA.id)
        assert posted == PostedMessage(channel=QA.id, ts=message.ts)
        assert message.blocks is not None and message.blocks[0]["text"]["text"] == "*MOD-1*"
        assert message.metadata == {
            "event_type": CARD,
            "event_payload": {"request": "MOD-1", "team": "qa"},
        }

    def test_post_to_a_user_lands_in_their_dm(
        self, gateway: SlackGateway, slack: SlackSandbox
    ) -> None:
        """A user id posts into the app's DM, the channel open_dm returns."""
        posted = gateway.post_message(PRIYA.id, "Your request MOD-2 is in review")
        assert posted.channel.startswith("D") and posted.channel == gateway.open_dm(PRIYA.id)
        assert [m.text for m in slack.messages(posted.channel)] == [
            "Your request MOD-2 is in review"
        ]

    def test_reply_in_thread(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """thread_ts makes a reply under the root."""
        root = gateway.post_message(QA.id, "MOD-3")
        reply = gateway.post_message(QA.id, "Approved by Priya", thread_ts=root.ts)
        assert [m.ts for m in slack.thread(QA.id, root.ts)] == [root.ts, reply.ts]

    def test_update_replaces_content(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """update_message edits in place; the stand-in keeps the old version."""
        posted = gateway.post_message(QA.id, "Pending", [{"type": "divider"}])
        gateway.update_message(QA.id, posted.ts, "Approved", [SectionBlock(text="Approved")])
        [message] = slack.messages(QA.id)
        assert message.text == "Approved" and [e.text for e in message.edits] == ["Pending"]

    def test_ephemeral_reaches_only_its_user(
        self, gateway: SlackGateway, slack: SlackSandbox
    ) -> None:
        """post_ephemeral returns its message_ts; only that user sees it."""
        ts = gateway.post_ephemeral(QA.id, TOMAS.id, "You cannot approve your own request")
        [shown] = slack.ephemerals(user=TOMAS.id)
        assert shown.ts == ts and slack.messages(QA.id) == []

    def test_permalink(self, gateway: SlackGateway) -> None:
        """A message's web link."""
        posted = gateway.post_message(QA.id, "x")
        assert gateway.permalink(QA.id, posted.ts).endswith(f"p{posted.ts.replace('.', '')}")


class TestPeople:
    """Identity lookups."""

    def test_lookup_by_email(self, gateway: SlackGateway) -> None:
        """An email maps to its user id; an unknown email to None, not an error."""
        assert gateway.lookup_user_by_email("priya.raman@example.com") == PRIYA.id
        assert gateway.lookup_user_by_email("nobody@example.com") is None

    def test_user_email(self, gateway: SlackGateway) -> None:
        """A person's email; a bot has none."""
        assert gateway.user_email(ELENA.id) == ELENA.email
        assert gateway.user_email(BOT.id) is None

    def test_bot_user_id(self, gateway: SlackGateway) -> None:
        """auth.test tells the gateway who it is."""
        assert gateway.bot_user_id() == BOT.id


class TestFindByMetadata:
    """Looking for a message before re-sending it (the outbox after a crash)."""

    def test_pages_history_until_found(
        self, make_gateway: GatewayFactory, slack: SlackSandbox
    ) -> None:
        """The oldest card is found on the last page, with include_all_metadata on each."""
        gateway = make_gateway(page_size=2)
        posted = [
            gateway.post_message(QA.id, f"MOD-{i}", metadata=card(f"MOD-{i}")) for i in range(7)
        ]
        slack.post_as_user(QA.id, PRIYA.id, "chatter without metadata")
        assert gateway.find_message_by_metadata(QA.id, CARD, "request", "MOD-0") == posted[0].ts
        pages = slack.calls("conversations.history")
        assert len(pages) == 4
        assert all(c.args["include_all_metadata"] == "1" and c.args["limit"] == "2" for c in pages)

    def test_none_when_no_message_matches(self, gateway: SlackGateway) -> None:
        """Same payload under another event_type, or another value: no match."""
        gateway.post_message(QA.id, "MOD-1", metadata=card("MOD-1"))
        assert gateway.find_message_by_metadata(QA.id, "other_event", "request", "MOD-1") is None
        assert gateway.find_message_by_metadata(QA.id, CARD, "request", "MOD-9") is None

    def test_in_a_thread(self, make_gateway: GatewayFactory) -> None:
        """With thread_ts it pages the thread's replies."""
        gateway = make_gateway(page_size=2)
        root = gateway.post_message(QA.id, "MOD-5")
        replies = [
            gateway.post_message(
                QA.id,
                f"decision {i}",
                thread_ts=root.ts,
                metadata={"event_type": "govflow_decision", "event_payload": {"n": i}},
            )
            for i in range(5)
        ]
        found = gateway.find_message_by_metadata(
            QA.id, "govflow_decision", "n", 4, thread_ts=root.ts
        )
        assert found == replies[4].ts

    def test_oldest_bounds_the_search(self, gateway: SlackGateway) -> None:
        """Messages at or before `oldest` are not looked at."""
        old = gateway.post_message(QA.id, "MOD-1", metadata=card("MOD-1"))
        assert (
            gateway.find_message_by_metadata(QA.id, CARD, "request", "MOD-1", oldest=old.ts) is None
        )


class TestRetries:
    """The retry handlers: 429 and 5xx retried, writes never blindly resent."""

    def test_rate_limit_waits_retry_after_and_delivers_once(
        self, gateway: SlackGateway, slack: SlackSandbox
    ) -> None:
        """A 429 with Retry-After: 1 is waited out and the message posted exactly once."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.RATE_LIMIT, retry_after=1))
        started = time.monotonic()
        gateway.post_message(QA.id, "MOD-7")
        assert time.monotonic() - started >= 1.0
        assert [c.http_status for c in slack.calls("chat.postMessage")] == [429, 200]
        assert [m.text for m in slack.messages(QA.id)] == ["MOD-7"]

    def test_rate_limit_beyond_retries_keeps_retry_after(
        self, make_gateway: GatewayFactory, slack: SlackSandbox
    ) -> None:
        """Out of retries: SlackError with status 429, code and Retry-After for the caller."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.RATE_LIMIT, retry_after=5))
        error = failure(lambda: make_gateway(rate_limit_retries=0).post_message(QA.id, "x"))
        assert (error.code, error.status, error.retry_after) == ("ratelimited", 429, 5.0)
        assert error.transient and isinstance(error, SlackError)

    def test_server_errors_are_retried(
        self, make_gateway: GatewayFactory, slack: SlackSandbox
    ) -> None:
        """Two 503s then success: one message."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.SERVER_ERROR, status=503), times=2)
        make_gateway(server_error_retries=2).post_message(QA.id, "MOD-8")
        assert [c.http_status for c in slack.calls("chat.postMessage")] == [503, 503, 200]
        assert len(slack.messages(QA.id)) == 1

    def test_server_errors_beyond_retries(
        self, make_gateway: GatewayFactory, slack: SlackSandbox
    ) -> None:
        """A 5xx page carries no Slack code; the status says it is worth trying later."""
        slack.add_fault("*", Fault(FaultKind.SERVER_ERROR, status=503), times=3)
        error = failure(lambda: make_gateway(server_error_retries=2).post_message(QA.id, "x"))
        assert (error.code, error.status, error.transient) == (None, 503, True)

    def test_reset_write_is_not_resent(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """A reset while awaiting chat.postMessage's answer fails; no blind second post."""
        slack.add_fault("chat.postMessage", Fault(FaultKind.RESET))
        error = failure(lambda: gateway.post_message(QA.id, "x"))
        assert (error.status, error.code, error.transient) == (None, None, True)
        assert len(slack.calls("chat.postMessage")) == 1

    def test_reset_read_is_retried(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """A read is safe to repeat after a reset."""
        slack.add_fault("users.info", Fault(FaultKind.RESET))
        assert gateway.user_email(PRIYA.id) == PRIYA.email
        assert [c.fault for c in slack.calls("users.info")] == ["reset", None]

    def test_lost_answer_then_look_before_resending(
        self, gateway: SlackGateway, slack: SlackSandbox
    ) -> None:
        """Slack posted but the answer was lost: the lookup finds it, so nothing is doubled."""
        slack.lose_responses("chat.postMessage")
        failure(lambda: gateway.post_message(QA.id, "MOD-9", metadata=card("MOD-9")))
        found = gateway.find_message_by_metadata(QA.id, CARD, "request", "MOD-9")
        assert found is not None and [m.ts for m in slack.messages(QA.id)] == [found]

    def test_nobody_listening_is_a_transient_slack_error(
        self, make_gateway: GatewayFactory
    ) -> None:
        """Connection refused: SlackError without status, caused by the socket error."""
        sock = bind_loopback()
        port = sock.getsockname()[1]
        sock.close()
        gateway = make_gateway(base_url=f"http://127.0.0.1:{port}/api/", connection_retries=1)
        error = failure(lambda: gateway.post_message(QA.id, "x"))
        assert error.status is None and error.transient and isinstance(error.__cause__, URLError)

    def test_timeout_is_a_transient_slack_error(
        self, make_gateway: GatewayFactory, slack: SlackSandbox
    ) -> None:
        """No answer within the timeout: SlackError without status."""
        slack.add_fault("auth.test", Fault(FaultKind.LATENCY, delay=1.5))
        error = failure(lambda: make_gateway(timeout=1).bot_user_id())
        assert error.status is None and error.method == "auth.test"


class TestErrors:
    """Slack's refusals arrive as SlackError carrying Slack's code."""

    def test_refusal_keeps_code_status_and_cause(self, gateway: SlackGateway) -> None:
        """channel_not_found: HTTP 200, not worth retrying, raised from SlackApiError."""
        error = failure(lambda: gateway.post_message("C0NOPE0001", "x"))
        assert (error.method, error.code, error.status) == (
            "chat.postMessage",
            "channel_not_found",
            200,
        )
        assert not error.transient and isinstance(error.__cause__, SlackApiError)

    def test_bad_token(self, make_gateway: GatewayFactory) -> None:
        """A revoked or wrong token: invalid_auth."""
        assert (
            failure(lambda: make_gateway(token="xoxb-wrong").bot_user_id()).code == "invalid_auth"
        )

    def test_editing_a_persons_message(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """The app cannot edit what a person typed."""
        human = slack.post_as_user(QA.id, PRIYA.id, "hello")
        assert (
            failure(lambda: gateway.update_message(QA.id, human.ts, "x")).code
            == "cant_update_message"
        )


MODAL = View(type="modal", title="Assessment", submit="Send", blocks=[SectionBlock(text="MOD-1")])


class TestViews:
    """Modals through trigger_ids the stand-in issued."""

    def test_open_then_update_with_hash(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """open_view returns the id; update_view by id replaces the blocks."""
        view_id = gateway.open_view(slack.issue_trigger_id(ELENA.id), MODAL)
        [opened] = slack.views(user=ELENA.id)
        changed = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Assessment"},
            "blocks": [],
        }
        assert gateway.update_view(changed, view_id=view_id, hash=opened.hash) == view_id
        assert slack.views(user=ELENA.id)[0].payload["blocks"] == []
        stale = failure(lambda: gateway.update_view(changed, view_id=view_id, hash=opened.hash))
        assert stale.code == "hash_conflict"

    def test_push(self, gateway: SlackGateway, slack: SlackSandbox) -> None:
        """push_view stacks a second modal."""
        gateway.open_view(slack.issue_trigger_id(ELENA.id), MODAL)
        gateway.push_view(slack.issue_trigger_id(ELENA.id), MODAL)
        assert len(slack.views(user=ELENA.id)) == 2

    def test_expired_trigger(self) -> None:
        """A trigger older than 3 s: expired_trigger_id."""
        clock = ManualClock()
        with SlackSandbox(clock=clock) as sandbox:
            gateway = SlackGateway(sandbox.bot_token, base_url=sandbox.api_url)
            trigger = sandbox.issue_trigger_id(ELENA.id)
            clock.advance(3.5)
            assert failure(lambda: gateway.open_view(trigger, MODAL)).code == "expired_trigger_id"


class TestShape:
    """How the gateway is built."""

    def test_construction_makes_no_call(self, slack: SlackSandbox) -> None:
        """The WebClient is built at first use, so constructing sends nothing."""
        SlackGateway(slack.bot_token, base_url=slack.api_url)
        assert slack.calls() == []

    def test_satisfies_the_port(self, gateway: SlackGateway) -> None:
        """SlackGateway is a SlackPort (checked by mypy; used here through the protocol)."""
        port: SlackPort = gateway
        assert port.lookup_user_by_email("tomas.herrera@example.com") == TOMAS.id
