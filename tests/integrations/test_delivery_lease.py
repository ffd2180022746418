"""A deliverer killed mid-delivery leaves its lease; its successor on that machine takes over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.stages import Stage
from integrations.db.engine import make_sessionmaker
from integrations.db.outbox import claim_request_effects, enqueue_effect
from integrations.db.requests import ensure_request, lock_request
from integrations.delivery import Deliverer, EffectKind, owner_is_gone
from integrations.jira.gateway import JiraGateway
from integrations.slack.gateway import SlackGateway
from sandbox.jira_server import JiraSandbox
from sandbox.slack import SlackSandbox

LEASE = timedelta(minutes=2)


def ended_pid() -> int:
    """The id of a process of this machine that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class TestOwnerIsGone:
    """Which lease owners are known to be dead."""

    def test_an_ended_process_of_this_machine(self) -> None:
        """Its pid no longer exists: gone."""
        assert owner_is_gone(f"{socket.gethostname()}:{ended_pid()}:abc")

    def test_a_running_process_or_another_machine(self) -> None:
        """This process, or any process elsewhere, is taken as alive."""
        assert not owner_is_gone(f"{socket.gethostname()}:{os.getpid()}:abc")
        assert not owner_is_gone(f"elsewhere.example:{ended_pid()}:abc")
        assert not owner_is_gone("not-an-owner")


class TestDeadOwnerLease:
    """Delivery resumes at once after a crash instead of after the lease runs out."""

    def test_successor_delivers_what_a_dead_deliverer_held(self, ledger: Engine) -> None:
        """The lease of a killed deliverer does not hold up the request's effects."""
        now = datetime.now(UTC)
        sessions = make_sessionmaker(ledger)
        with JiraSandbox(seed=True) as jira, SlackSandbox() as slack:
            with sessions.begin() as session:
                ensure_request(
                    session,
                    jira_key="MODREQ-1",
                    jira_id="10001",
                    project="MODREQ",
                    jira_updated=now,
                    stage=Stage.RECEIVED,
                    now=now,
                )
                request_id = lock_request(session, "MODREQ-1").id
                enqueue_effect(
                    session,
                    request_id=request_id,
                    kind=EffectKind.JIRA_COMMENT,
                    payload={"body": "after the crash"},
                    idempotency_key="MODREQ-1:lease-test",
                    now=now,
                )
                dead = f"{socket.gethostname()}:{ended_pid()}:dead"
                assert claim_request_effects(session, request_id, owner=dead, now=now, lease=LEASE)
            user, token = jira.credentials
            deliverer = Deliverer(
                sessions=sessions,
                jira=JiraGateway(jira.url, user, token, max_retries=0),
                slack=SlackGateway(slack.bot_token, base_url=slack.api_url),
                clock=lambda: datetime.now(UTC),
            )
            report = deliverer.deliver_request(request_id)
            assert (report.sent, report.skipped_requests) == (1, 0)
            assert [c.body.split("\n")[0] for c in jira.comments("MODREQ-1")] == ["after the crash"]
