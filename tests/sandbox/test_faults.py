"""The fault plan both stand-ins share: random bursts and counts by kind."""

from __future__ import annotations

import random

import httpx
import pytest
from slack_sdk import WebClient

from sandbox.faults import Fault, FaultKind, FaultPlan, RandomFaults
from sandbox.slack import SlackSandbox
from tests.sandbox.slack.helpers import QA


class TestRandomFaults:
    """A soak's random faults."""

    def test_a_random_burst_fails_the_next_calls_of_that_method(self) -> None:
        """A 429 burst of 3 drawn once fails that call and the next two of the same method."""
        plan = FaultPlan()
        burst = Fault(FaultKind.RATE_LIMIT, burst=3)
        plan.set_random(RandomFaults(rate=1.0, kinds=(burst,), rng=random.Random(1)))
        assert plan.take("chat.postMessage") == burst
        plan.set_random(None)
        assert plan.take("conversations.replies") is None
        assert [plan.take("chat.postMessage") for _ in range(3)] == [burst, burst, None]

    def test_counts_by_kind_and_status(self) -> None:
        """Every injected fault is counted, 5xx by status."""
        plan = FaultPlan()
        plan.add("a", Fault(FaultKind.SERVER_ERROR, status=500))
        plan.add("a", Fault(FaultKind.SERVER_ERROR, status=503), times=2)
        plan.add("*", Fault(FaultKind.RESET))
        for _ in range(4):
            plan.take("a")
        assert plan.take("a") is None
        assert plan.counts() == {"server_error_500": 1, "server_error_503": 2, "reset": 1}

    def test_a_seeded_plan_repeats_itself(self) -> None:
        """The same seed draws the same faults on the same calls."""

        def draws(seed: int) -> list[Fault | None]:
            plan = FaultPlan()
            kinds = (Fault(FaultKind.RESET), Fault(FaultKind.LATENCY, delay=1.0))
            plan.set_random(RandomFaults(rate=0.3, kinds=kinds, rng=random.Random(seed)))
            return [plan.take("m") for _ in range(50)]

        assert draws(7) == draws(7)
        assert any(draws(7)) and not all(draws(7))


class TestSlackLatency:
    """A slow Slack answer: the call took effect, only the answer is late."""

    def test_a_post_whose_answer_timed_out_was_posted(self) -> None:
        """The client gives up after 1 s; the message is in the channel all the same."""
        with SlackSandbox() as slack:
            slack.add_fault("chat.postMessage", Fault(FaultKind.LATENCY, delay=2.0))
            client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=1)
            client.retry_handlers = []
            with pytest.raises(TimeoutError):
                client.chat_postMessage(channel=QA.id, text="late but posted")
            assert [m.text for m in slack.messages(QA.id)] == ["late but posted"]
            assert [c.fault for c in slack.calls("chat.postMessage")] == ["latency"]

    def test_the_answer_still_comes_after_the_delay(self) -> None:
        """A patient client gets the normal answer once the delay is over."""
        with SlackSandbox() as slack:
            slack.add_fault("auth.test", Fault(FaultKind.LATENCY, delay=0.3))
            answer = httpx.post(
                f"{slack.api_url}auth.test",
                headers={"Authorization": f"Bearer {slack.bot_token}"},
                timeout=5,
            )
            assert answer.json()["ok"] is True
            assert answer.elapsed.total_seconds() >= 0.3
