"""Thread replies for lifecycle notices: one for every kind that should speak, all valid."""

from __future__ import annotations

import html
import re
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from domain.assessment import Recommendation
from domain.lifecycle import GOVFLOW, RequesterIdentified
from domain.notices import (
    AssessmentRecorded,
    Cancelled,
    ChangesRequested,
    Claimed,
    InfoReceived,
    InfoRequested,
    Notice,
    Rejected,
    StageChanged,
)
from domain.people import Person
from domain.signoff import Verdict
from domain.stages import Stage
from integrations.slack.notices import thread_reply
from tests.domain.test_lifecycle import (
    DANIEL,
    ELENA,
    GRACE,
    HANNAH,
    LUCAS,
    MARCO,
    PRIYA,
    TOMAS,
    Flow,
    make_assessment,
    make_rules,
)
from tests.domain.test_lifecycle_sop import CHANGE, SOP, V1, signed_off, version
from tests.integrations.slack.test_cards import all_text, slack_problems, storable

RULES = make_rules()
TOMAS_EMAIL = "tomas.herrera@example.com"


def every_kind_of_notice() -> list[Notice]:
    """Notices of every kind, from real runs of the lifecycle."""
    notices: list[Notice] = []
    flow = Flow.start()
    notices += flow.claim(ELENA)
    notices += flow.claim(DANIEL)
    notices += flow.ask(DANIEL, "Which markets?")
    notices += flow.reply(PRIYA, "Not the requester.")
    notices += flow.reply(LUCAS, "Only MY.")
    notices += flow.assess(DANIEL)
    notices += flow.decide(PRIYA, "qa")
    notices += flow.decide(HANNAH, "product")
    notices += flow.decide(TOMAS, "qa", Verdict.REQUEST_CHANGES, "Cover marketplaces.")
    notices += flow.assess(DANIEL)
    flow.approve_all()
    rejected = Flow.start().to_signoff()
    notices += rejected.decide(GRACE, "bpo", Verdict.REJECT, "Conflicts with MY law.")
    cancelled = Flow.start()
    notices += cancelled.cancel(LUCAS, "No longer needed")
    finished = Flow.start().to_signoff()
    for who, team in [(PRIYA, "qa"), (TOMAS, "qa"), (GRACE, "bpo"), (MARCO, "bpo")]:
        notices += finished.decide(who, team)
    notices += finished.decide(HANNAH, "product")
    notices += sop_step_notices()
    notices += requester_identified_notices()
    return notices


def requester_identified_notices() -> list[Notice]:
    """The requester's Slack id learned after routing (Slack did not answer at intake)."""
    flow = Flow.start(requester=Person(jira_account_id="acc-tomas", email=TOMAS_EMAIL))
    event = RequesterIdentified(
        event_id="identified",
        actor=GOVFLOW,
        at=flow.now,
        email=TOMAS_EMAIL,
        slack_id="U0QA00002",
    )
    return list(flow.send(event))


def sop_step_notices() -> list[Notice]:
    """Notices of the SOP update step: drafts, refusals, edits, rebases, conflicts, publication."""
    notices: list[Notice] = []
    refused = Flow.start()
    refused.sops = {SOP: version(V1)}
    refused.claim(ELENA)
    notices += refused.assess(ELENA, change="### 9.1 Nowhere\nText.")
    missing = Flow.start()
    missing.sops = {}
    notices += missing.claim(ELENA) + missing.assess(ELENA, change=CHANGE)
    prepared = Flow.start()
    prepared.sops = {SOP: version(V1)}
    prepared.claim(ELENA)
    notices += prepared.assess(ELENA, change=CHANGE)
    flow = signed_off()
    notices += flow.edit(SOP, "### 2.2 Evidence\n\nRecord two images.\n")
    flow.approve_all()
    flow.sops = {SOP: version(V1.replace("14 days", "30 days"), 2)}
    notices += flow.publish()
    flow.approve_all()
    notices += flow.publish()
    clash = signed_off()
    clash.sops = {SOP: version(V1.replace("restricted to the collectibles", "allowed in"), 2)}
    notices += clash.publish()
    notices += clash.send_back("Reconcile with the permit rule first.")
    return notices


NOTICES = every_kind_of_notice()


def test_the_runs_cover_every_kind() -> None:
    """The scripted runs produce every notice kind the domain defines."""
    (union, _) = typing.get_args(Notice)
    kinds = {cls.model_fields["kind"].default for cls in typing.get_args(union)}
    assert {n.kind for n in NOTICES} == kinds


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.kind)
def test_every_notice_renders_valid_blocks_or_nothing(notice: Notice) -> None:
    """Each notice is a valid reply, except stage changes, which the root card shows."""
    reply = thread_reply(notice, RULES)
    if isinstance(notice, StageChanged):
        assert reply is None
        return
    assert reply is not None
    text, blocks = reply
    assert text.strip() and blocks
    assert slack_problems(blocks) == []


def reply_text(notice: Notice) -> str:
    reply = thread_reply(notice, RULES)
    assert reply is not None
    return all_text(reply[1])


class TestWording:
    def test_decision_says_who_for_which_team_and_progress(self) -> None:
        """A decision reply names the approver, the team, the verdict and the progress."""
        (decision,) = [n for n in NOTICES if n.kind == "decision_recorded"][:1]
        assert reply_text(decision) == "✅ Priya Raman approved for QA · 1 of 2 approvals"

    def test_takeover_pings_the_previous_assignee(self) -> None:
        """Taking over mentions the expert who held the request, so they know."""
        text = reply_text(Claimed(by=DANIEL, previous=ELENA))
        assert text == "🙋 Daniel Kim claimed the request, taking it over from <@U0EX00001>"

    def test_nameless_people_are_mentioned(self) -> None:
        """Someone we know only by Slack id is shown as a mention, which Slack names."""
        text = reply_text(Cancelled(by=Person(slack_id="U0MS00002"), reason="Dup"))
        assert "<@U0MS00002>" in text

    def test_assessment_reply_carries_the_full_change(self) -> None:
        """The whole proposed change is in the thread, split over sections if need be."""
        change = "### 4.2 Title\n" + "\n".join(f"line {i} & <b> `x`" for i in range(150))
        assessment = make_assessment(ELENA).model_copy(update={"proposed_change": change})
        reply = thread_reply(AssessmentRecorded(assessment=assessment, round=1), RULES)
        assert reply is not None
        _text, blocks = reply
        assert slack_problems(blocks) == []
        assert "recommends to *proceed to sign-off*" in blocks[0]["text"]["text"]
        bodies = [b["text"]["text"] for b in blocks if "```" in b["text"]["text"]]
        assert len(bodies) > 1
        shown = "\n".join(
            re.search(r"```\n(.*)\n```", body, re.S).group(1)  # type: ignore[union-attr]
            for body in bodies
        )
        assert html.unescape(shown) == change.replace("`", "\u02cb")

    def test_needs_info_assessment_calls_the_rationale_a_question(self) -> None:
        """For NEEDS_INFO the rationale is presented as the question asked."""
        assessment = make_assessment(ELENA, Recommendation.NEEDS_INFO, rationale="Which?")
        text = reply_text(AssessmentRecorded(assessment=assessment, round=0))
        assert "*Question for the requester*\nWhich?" in text

    def test_rejection_says_whether_it_ends_the_request(self) -> None:
        """A final rejection closes; a returned one goes back to expert review."""
        final = reply_text(Rejected(by=GRACE, reason="No", team="bpo", ends_request=True))
        back = reply_text(Rejected(by=GRACE, reason="No", team="bpo", ends_request=False))
        assert "closed" in final and "back to expert review" in back

    def test_other_comment_while_waiting_is_noted_as_not_the_answer(self) -> None:
        """A comment by someone else does not resume, and the reply says so."""
        text = reply_text(InfoReceived(by=PRIYA, body="hm", comment_id="1", resumed=False))
        assert "still waiting" in text


class TestHostileText:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=storable, name=storable)
    def test_replies_stay_valid_and_contained(self, text: str, name: str) -> None:
        """Reasons, questions, bodies and names of any shape give valid, contained replies."""
        body = text[:3000] if text.strip() else "x"
        who = Person(slack_id="U0QA00001", name=name[:300])
        assessment = make_assessment(ELENA).model_copy(
            update={"proposed_change": body, "rationale": body, "author": who}
        )
        samples: list[Any] = [
            AssessmentRecorded(assessment=assessment, round=1),
            Rejected(by=who, reason=body, team=name[:50], ends_request=True),
            ChangesRequested(by=who, team="qa", feedback=body),
            InfoRequested(by=who, question=body, resume_stage=Stage.SIGN_OFF),
            InfoReceived(by=who, body=text, comment_id="1", resumed=True),
            Cancelled(by=who, reason=body),
            Claimed(by=who, previous=Person(email="x@example.com", name=name[:300])),
        ]
        for notice in samples:
            reply = thread_reply(notice, RULES)
            assert reply is not None
            assert slack_problems(reply[1]) == []
