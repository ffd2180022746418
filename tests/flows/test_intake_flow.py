"""The intake flow end to end: Jira stand-in -> ledger -> Jira comments and Slack threads."""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from domain.stages import Stage
from flows.intake import intake
from govflow.runtime import Runtime, utc_now
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, OutboxRow, RequestRow
from integrations.delivery import Deliverer
from sandbox.faults import Fault, FaultKind
from sandbox.jira import seed
from sandbox.jira_server import JiraSandbox
from sandbox.slack.sandbox import SlackSandbox

pytestmark = pytest.mark.prefect

ROUTED = {"MODREQ-1", "MODREQ-2", "MODREQ-4", "MODREQ-6", "MODREQ-7"}
INCOMPLETE = {"MODREQ-3", "MODREQ-5"}
REPORTER = "chloe.tan@example.com"


def complete_fields(summary: str, market: str = "SG") -> dict[str, object]:
    """Fields of a ticket that passes triage."""
    return {
        "Summary": summary,
        "Description": "Refurbished phone listings are rejected inconsistently across BPO sites.",
        "Priority": "Medium",
        seed.REQUEST_TYPE: seed.REVIEW_STANDARD_CHANGE,
        seed.DOMAIN: seed.PRODUCT_LISTING,
        seed.MARKET: market,
        seed.BUSINESS_JUSTIFICATION: "Appeals on refurbished phones doubled this quarter.",
        seed.AFFECTED_SOP: "SOP-LST-001",
        seed.PROPOSED_CHANGE: "Accept refurbished phones with a grading certificate.",
    }


def requests_by_key(engine: Engine) -> dict[str, RequestRow]:
    with make_sessionmaker(engine).begin() as session:
        return {row.jira_key: row for row in session.scalars(select(RequestRow))}


def govflow_comments(jira: JiraSandbox) -> Counter[str]:
    """How many comments govflow's API user wrote on each issue."""
    user, _ = jira.credentials
    return Counter(c.issue_key for c in jira.comments() if c.author_email == user)


def root_messages(slack: SlackSandbox, channel: str) -> list[str]:
    return [m.text for m in slack.messages(channel) if not m.is_reply]


def ledger_counts(engine: Engine) -> tuple[int, int, int]:
    with make_sessionmaker(engine).begin() as session:
        return (
            session.scalar(select(func.count()).select_from(RequestRow)) or 0,
            session.scalar(select(func.count()).select_from(OutboxRow)) or 0,
            session.scalar(select(func.count()).select_from(AuditRow)) or 0,
        )


class TestIntakeFlow:
    def test_seeded_tickets_become_requests_with_one_comment_each(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
    ) -> None:
        """Complete tickets are routed and get a thread; incomplete ones are told what to fix."""
        summary = intake()

        rows = requests_by_key(ledger)
        assert {k for k, r in rows.items() if r.stage == Stage.EXPERT_REVIEW} == ROUTED
        assert {k for k, r in rows.items() if r.stage == Stage.NEEDS_INFO} == INCOMPLETE
        assert summary["delivered"] > 0 and summary["dead"] == 0
        assert govflow_comments(jira) == Counter({key: 1 for key in ROUTED | INCOMPLETE})
        bodies = {c.issue_key: c.body for c in jira.comments()}
        assert "Business justification" in bodies["MODREQ-3"] and "is missing" in bodies["MODREQ-3"]
        assert "'TW' is not an accepted value" in bodies["MODREQ-5"]
        assert "expert review by" in bodies["MODREQ-1"]
        for key in ROUTED:
            row = rows[key]
            assert row.slack_channel is not None and row.slack_thread_ts is not None
            root, *replies = slack.thread(row.slack_channel, row.slack_thread_ts)
            assert key in root.text
            assert len(replies) == 1 and "govflow.claim" in str(replies[0].blocks)
        assert {t.issue_key for t in jira.transitions_done()} == ROUTED | INCOMPLETE

    def test_second_run_changes_nothing(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
    ) -> None:
        """Running intake again over the same tickets writes nothing anywhere."""
        intake()
        before = (ledger_counts(ledger), len(jira.comments()), len(slack.calls("chat.postMessage")))
        summary = intake()
        after = (ledger_counts(ledger), len(jira.comments()), len(slack.calls("chat.postMessage")))
        assert summary["changed"] == []
        assert after == before

    def test_fixed_ticket_is_routed_after_the_edit(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox
    ) -> None:
        """Filling in the missing field moves the request on, with no second complaint."""
        intake()
        jira.edit_fields(
            "MODREQ-3",
            {seed.BUSINESS_JUSTIFICATION: "BPO sites disagree on 30% of cases."},
            by="budi.santoso@example.com",
        )
        intake()
        assert requests_by_key(ledger)["MODREQ-3"].stage == Stage.EXPERT_REVIEW
        bodies = [c.body for c in jira.comments("MODREQ-3")]
        assert len(bodies) == 2
        assert "is missing" in bodies[0] and "on its way" in bodies[1]

    def test_still_incomplete_edit_gets_a_new_precise_comment(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox
    ) -> None:
        """An edit that fixes one thing and breaks another is answered with the new problem."""
        intake()
        jira.edit_fields(
            "MODREQ-3",
            {seed.BUSINESS_JUSTIFICATION: "Sites disagree on 30% of cases.", seed.MARKET: "TW"},
            by="budi.santoso@example.com",
        )
        intake()
        assert requests_by_key(ledger)["MODREQ-3"].stage == Stage.NEEDS_INFO
        latest = jira.comments("MODREQ-3")[-1].body
        assert "'TW' is not an accepted value" in latest and "Business justification" not in latest

    def test_150_tickets_at_once_are_paged_and_recorded_once(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
    ) -> None:
        """A burst larger than a result page is read through every page, each ticket once."""
        keys = [
            jira.file_issue(reporter=REPORTER, fields=complete_fields(f"Burst ticket {n}"))
            for n in range(150)
        ]
        intake()
        searches = [r for r in jira.requests() if r.operation.endswith("search/jql")]
        assert len(searches) >= 2
        rows = requests_by_key(ledger)
        assert all(rows[k].stage == Stage.EXPERT_REVIEW for k in keys)
        assert all(n == 1 for n in govflow_comments(jira).values())
        roots = root_messages(slack, "C0EX00001")
        assert sorted(Counter(t.split(" · ")[0] for t in roots).values()) == [1] * len(
            [k for k in rows if rows[k].slack_channel == "C0EX00001"]
        )


class TestIntakeUnderFaults:
    def test_rate_limits_and_server_errors_still_deliver_exactly_once(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
    ) -> None:
        """429s with Retry-After and 5xx from both stand-ins are retried; nothing doubles."""
        jira.add_fault(
            "POST issue/{key}/comment", Fault(FaultKind.RATE_LIMIT, retry_after=1), times=2
        )
        jira.add_fault("POST issue/{key}/transitions", Fault(FaultKind.SERVER_ERROR, status=503))
        slack.add_fault("chat.postMessage", Fault(FaultKind.RATE_LIMIT, retry_after=1), times=2)
        slack.add_fault("chat.postMessage", Fault(FaultKind.SERVER_ERROR, status=500))
        summary = intake()
        assert summary["dead"] == 0
        _deliver_until_done(ledger)
        assert govflow_comments(jira) == Counter({key: 1 for key in ROUTED | INCOMPLETE})
        rows = requests_by_key(ledger)
        for key in ROUTED:
            thread = slack.thread(rows[key].slack_channel or "", rows[key].slack_thread_ts or "")
            assert len(thread) == 2  # the root and the assignment card, each once
        injected = {(m, f.kind) for m, f in slack.faults.injected}
        assert ("chat.postMessage", FaultKind.RATE_LIMIT) in injected

    def test_answer_lost_after_posting_is_not_posted_again(
        self, pipeline_env: dict[str, str], ledger: Engine, slack: SlackSandbox
    ) -> None:
        """Slack posted but the answer never came back: the retry finds the message instead."""
        slack.lose_responses("chat.postMessage", times=1)
        intake()
        _deliver_until_done(ledger)
        rows = requests_by_key(ledger)
        for key in ROUTED:
            thread = slack.thread(rows[key].slack_channel or "", rows[key].slack_thread_ts or "")
            assert len(thread) == 2 and thread[0].text.split(" · ")[0] == key
        with make_sessionmaker(ledger).begin() as session:
            found = [
                r for r in session.scalars(select(OutboxRow)) if r.result.get("found_on_retry")
            ]
        assert len(found) == 1


@pytest.mark.postgres
class TestConcurrentIntake:
    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    def test_two_intakes_at_once_record_everything_once(
        self, pipeline_env: dict[str, str], ledger: Engine, jira: JiraSandbox, slack: SlackSandbox
    ) -> None:
        """Two intake runs racing over the same tickets produce one request and one comment each."""
        for n in range(40):
            jira.file_issue(reporter=REPORTER, fields=complete_fields(f"Race ticket {n}"))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                intake()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        # Prefect's settings (the test server's URL) live in context variables: carry them over.
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(run,)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        _deliver_until_done(ledger)
        assert all(n == 1 for n in govflow_comments(jira).values())
        assert len(requests_by_key(ledger)) == 47
        posted = Counter(
            m.text.split(" · ")[0] for m in slack.messages("C0EX00001") if not m.is_reply
        )
        assert all(n == 1 for n in posted.values())


def _deliver_until_done(engine: Engine, rounds: int = 10) -> None:
    """Deliver deferred effects with a clock moved past their back-off."""
    runtime = Runtime.load()
    for round_ in range(1, rounds + 1):
        offset = timedelta(minutes=11 * round_)
        deliverer = Deliverer(
            sessions=make_sessionmaker(engine),
            jira=runtime.jira,
            slack=runtime.slack,
            clock=lambda offset=offset: utc_now() + offset,
        )
        report = deliverer.deliver_due()
        if report.sent == 0 and report.deferred == 0:
            return
