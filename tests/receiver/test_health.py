"""The receiver's /readyz and /metrics over HTTP: ready on the ledger alone, acks timed."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.receiver.support import Stack


def ack_counts(url: str) -> dict[str, float]:
    """govflow_receiver_ack_seconds_count by endpoint, as scraped."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        sample.labels["endpoint"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "govflow_receiver_ack_seconds_count"
    }


class TestReceiverHealth:
    """Probes and metrics a load balancer and Prometheus read from a receiver."""

    def test_ready_with_the_ledger(self, stack: Stack) -> None:
        """The ledger answers: 200, whatever Prefect does (a receiver does not use it)."""
        answer = httpx.get(f"{stack.url}/readyz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["checks"]["ledger"] == "ok"
        assert answer.json()["required"] == ["ledger"]

    def test_every_answer_is_timed_by_endpoint(self, stack: Stack) -> None:
        """Refused deliveries are answers too: one observation per request, per endpoint."""
        assert ack_counts(stack.url) == {}
        for _ in range(2):
            refused = httpx.post(f"{stack.url}/jira/webhook", content=b"{}", timeout=10)
            assert refused.status_code == 401
        refused = httpx.post(f"{stack.url}/slack/events", content=b"payload=", timeout=10)
        assert refused.status_code == 401
        httpx.get(f"{stack.url}/healthz", timeout=10)
        assert ack_counts(stack.url) == {"jira": 2, "slack": 1}
        backlog = httpx.get(f"{stack.url}/metrics", timeout=10).text
        assert "govflow_unapplied_events 0.0" in backlog
