"""Intake matches the Jira requester to a Slack user, so rosters naming Slack ids leave them out.

Real intake flow under a real Prefect server, the Jira and Slack stand-ins over HTTP, and the
ledger on SQLite and PostgreSQL. Priya Raman is QA's lead in Slack (U0QA00001) and, added
here, a Jira user; QA signs off content review-standard changes with n_of: 2 of a roster of
two, so her own request can never pass QA: govflow must say so at once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from domain.lifecycle import RequestState
from domain.stages import Stage
from flows.intake import intake
from govflow.requesters import LOOKUP_FAILED
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, EventRow, RequestRow
from sandbox.faults import Fault
from sandbox.jira import seed
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox
from tests.support.stand_ins import SLACK_FAILING

pytestmark = pytest.mark.prefect

PRIYA = "priya.raman@example.com"  # Slack U0QA00001, QA lead
PRIYA_SLACK = "U0QA00001"
CHLOE = "chloe.tan@example.com"  # QA in Jira, not in the Slack workspace


def file_content_request(jira: JiraSandbox, reporter: str) -> str:
    """A complete content review-standard change: QA (n_of: 2) and BPO (any) sign off."""
    return jira.file_issue(
        reporter=reporter,
        fields={
            "Summary": "Stricter review of AI-generated product photos",
            "Description": "Generated photos pass review although they misstate the product.",
            "Priority": "Medium",
            seed.REQUEST_TYPE: seed.REVIEW_STANDARD_CHANGE,
            seed.DOMAIN: seed.CONTENT,
            seed.MARKET: "SG",
            seed.BUSINESS_JUSTIFICATION: "Returns for 'not as pictured' rose 30%.",
            seed.AFFECTED_SOP: "SOP-LST-001",
            seed.PROPOSED_CHANGE: "Reject listings whose main photo is generated.",
        },
    )


def lookups(slack: SlackSandbox, email: str) -> int:
    """How many times govflow asked Slack's users.lookupByEmail about `email`."""
    return sum(1 for c in slack.calls("users.lookupByEmail") if c.args.get("email") == email)


def request(ledger: Engine, key: str) -> tuple[RequestRow, RequestState]:
    with make_sessionmaker(ledger).begin() as session:
        row = session.scalars(select(RequestRow).where(RequestRow.jira_key == key)).one()
        session.expunge(row)
    assert row.state is not None
    return row, RequestState.model_validate(row.state)


def audit(ledger: Engine, request_id: int, action: str) -> list[AuditRow]:
    with make_sessionmaker(ledger).begin() as session:
        query = select(AuditRow).where(AuditRow.request_id == request_id, AuditRow.action == action)
        rows = list(session.scalars(query.order_by(AuditRow.id)))
        session.expunge_all()
        return rows


def unreachable_comments(jira: JiraSandbox, key: str) -> list[str]:
    return [c.body for c in jira.comments(key) if "cannot be reached" in c.body]


@pytest.fixture
def priya_in_jira(jira: JiraSandbox) -> str:
    """Priya as a Jira user (the seeds share nobody between Jira and Slack)."""
    return jira.add_user(PRIYA, "Priya Raman", time_zone="Asia/Kolkata")


class TestRequesterMatchedAtIntake:
    def test_a_qa_member_is_left_out_of_qa_from_the_start(
        self,
        pipeline_env: dict[str, str],
        ledger: Engine,
        jira: JiraSandbox,
        slack: SlackSandbox,
        priya_in_jira: str,
    ) -> None:
        """Never seen in Slack: looked up at intake, left out, QA's n_of: 2 announced short."""
        key = file_content_request(jira, PRIYA)

        intake()

        row, state = request(ledger, key)
        assert state.requester.slack_id == PRIYA_SLACK
        assert state.requester.email == PRIYA
        assert lookups(slack, PRIYA) == 1
        [record] = audit(ledger, row.id, "quorum_unreachable")
        assert record.detail is not None
        assert record.detail["team"] == "qa" and record.detail["eligible"] == 1
        [comment] = unreachable_comments(jira, key)
        assert "Quality Assurance sign-off of" in comment and "(n_of: 2)" in comment
        thread = slack.thread(str(row.slack_channel), str(row.slack_thread_ts))
        assert any("cannot be reached" in m.text for m in thread)
        assert audit(ledger, row.id, LOOKUP_FAILED) == []

    @pytest.mark.parametrize("email", [PRIYA, CHLOE], ids=["in-slack", "not-in-slack"])
    def test_the_answer_is_cached_across_polls(
        self,
        pipeline_env: dict[str, str],
        ledger: Engine,
        jira: JiraSandbox,
        slack: SlackSandbox,
        priya_in_jira: str,
        email: str,
    ) -> None:
        """A found id and a 'no such user' alike: a later poll of the same ticket asks no more."""
        key = file_content_request(jira, email)
        intake()
        jira.edit_fields(key, {"Summary": "Stricter review of generated photos"}, by=email)

        second = intake()

        assert key in second["changed"]  # the edit was polled and recorded
        assert lookups(slack, email) == 1
        _, state = request(ledger, key)
        assert state.requester.slack_id == (PRIYA_SLACK if email == PRIYA else None)


class TestSlackDownAtIntake:
    @pytest.mark.parametrize("fault", SLACK_FAILING)
    def test_taken_in_anyway_then_left_out_once_slack_answers(
        self,
        pipeline_env: dict[str, str],
        ledger: Engine,
        jira: JiraSandbox,
        slack: SlackSandbox,
        priya_in_jira: str,
        fault: Fault,
    ) -> None:
        """The ticket is routed without the Slack id and audited; the next pass applies it."""
        key = file_content_request(jira, PRIYA)
        # Every look-up of this pass fails (the seeded tickets' requesters are asked first).
        slack.add_fault("users.lookupByEmail", fault, times=50)

        intake()

        row, state = request(ledger, key)
        assert state.stage is Stage.EXPERT_REVIEW
        assert state.requester.slack_id is None
        [failure] = audit(ledger, row.id, LOOKUP_FAILED)
        assert failure.detail == {"email": PRIYA}
        assert audit(ledger, row.id, "quorum_unreachable") == []
        assert unreachable_comments(jira, key) == []

        slack.clear_faults()
        intake()

        row, state = request(ledger, key)
        assert state.requester.slack_id == PRIYA_SLACK
        assert state.stage is Stage.EXPERT_REVIEW
        with make_sessionmaker(ledger).begin() as session:
            events = session.scalars(
                select(EventRow).where(
                    EventRow.request_id == row.id, EventRow.kind == "requester_identified"
                )
            ).all()
            assert [e.processed_at is not None for e in events] == [True]
        [record] = audit(ledger, row.id, "quorum_unreachable")
        assert record.detail is not None and record.detail["team"] == "qa"
        assert len(unreachable_comments(jira, key)) == 1

        third = intake()

        assert third["requesters_matched"] == 0
        assert len(audit(ledger, row.id, "quorum_unreachable")) == 1
        assert len(audit(ledger, row.id, LOOKUP_FAILED)) == 1
