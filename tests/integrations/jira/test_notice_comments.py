"""Jira comments for lifecycle notices: milestones only, the requester mentioned when asked."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.assessment import Recommendation
from domain.notices import (
    AssessmentRecorded,
    Cancelled,
    ChangesRequested,
    Claimed,
    DecisionRecorded,
    InfoReceived,
    InfoRequested,
    Notice,
    Rejected,
    RequesterMatched,
    SignoffComplete,
    SignoffOpened,
    StageChanged,
    TeamSignedOff,
)
from domain.stages import Stage
from integrations.jira.notices import jira_comment
from tests.domain.test_lifecycle import ELENA, GRACE, PRIYA, Flow, make_assessment, make_rules
from tests.integrations.slack.test_notice_texts import NOTICES

RULES = make_rules()
ACCOUNT = "712020:5b10ac8d-82e0-5b22"
# A requester matched to Slack matters to approvers, not a milestone for the requester.
SILENT = (StageChanged, Claimed, DecisionRecorded, InfoReceived, RequesterMatched)


def comment(notice: Notice, account: str | None = ACCOUNT) -> str | None:
    return jira_comment(notice, RULES, requester_account_id=account)


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.kind)
def test_milestones_comment_and_clicks_do_not(notice: Notice) -> None:
    """Each notice kind is a comment or silence, as the milestone list says."""
    text = comment(notice)
    if isinstance(notice, SILENT):
        assert text is None
    elif isinstance(notice, AssessmentRecorded):
        proceed = notice.assessment.recommendation is Recommendation.PROCEED
        assert (text is not None) == proceed
    else:
        assert text and len(text) <= 32_767


class TestWording:
    def test_question_mentions_the_requester(self) -> None:
        """The requester is mentioned by account id and told to answer on the ticket."""
        text = comment(
            InfoRequested(by=ELENA, question="Which markets?", resume_stage=Stage.EXPERT_REVIEW)
        )
        assert text == (
            f"[~accountid:{ACCOUNT}] Elena Petrova has a question about this request:\n"
            "{quote}Which markets?{quote}\n"
            "Please answer in a comment on this ticket. The request is paused until you do."
        )

    def test_question_without_a_usable_account_greets_instead(self) -> None:
        """No account id (or a malformed one) gives a greeting, never broken markup."""
        for account in (None, "", "x] [evil|http://e"):
            text = comment(
                InfoRequested(by=ELENA, question="Q?", resume_stage=Stage.SIGN_OFF), account
            )
            assert text is not None and text.startswith("Hello, Elena Petrova")

    def test_assessment_comment_lists_the_recommendation_and_change(self) -> None:
        """A PROCEED assessment shows recommendation, risk, SOPs, rationale and the change."""
        text = comment(AssessmentRecorded(assessment=make_assessment(ELENA), round=1))
        assert text is not None
        for expected in [
            "*Expert assessment recorded* by Elena Petrova",
            "* *Recommendation:* Proceed to sign-off",
            "* *Risk:* Medium",
            "* *Affected SOPs:* SOP-LST-014",
            "{quote}Sellers keep listing replicas under a vague category; tighten it.{quote}",
            "{noformat}\nReplica goods are prohibited in every category.\n{noformat}",
        ]:
            assert expected in text

    def test_signoff_opened_lists_teams_and_quorums(self) -> None:
        """Opening sign-off names each team and how many of it must approve."""
        flow = Flow.start()
        flow.claim(ELENA)
        (opened,) = [n for n in flow.assess(ELENA) if isinstance(n, SignoffOpened)]
        text = comment(opened)
        assert text is not None
        assert "* QA: every approver\n* BPO Ops: 2 approvers\n* Product: any one approver" in text

    def test_rejection_and_changes_quote_the_reason(self) -> None:
        """A rejection says whether it is final; changes say the expert revises."""
        final = comment(Rejected(by=GRACE, reason="Too broad", team="bpo", ends_request=True))
        back = comment(Rejected(by=GRACE, reason="Too broad", team="bpo", ends_request=False))
        changes = comment(ChangesRequested(by=PRIYA, team="qa", feedback="Add examples"))
        assert final and "*Request rejected* by BPO Ops" in final and "closed" in final
        assert back and "revise" in back and "{quote}Too broad{quote}" in back
        assert changes and "*Changes requested* by QA" in changes

    def test_team_and_round_milestones(self) -> None:
        """Each team's sign-off and the round's completion are short comments."""
        assert comment(TeamSignedOff(team="qa", round=2)) == (
            "*QA signed off* the proposed change (round 2)."
        )
        assert "every team approved" in (comment(SignoffComplete(round=2)) or "")
        assert "cancelled" in (comment(Cancelled(by=ELENA, reason="Dup")) or "").lower()


SPECIAL = set("{}[]|*_~!")


def quoted_bodies(text: str) -> list[str]:
    return re.findall(r"\{quote\}(.*?)\{quote\}", text, re.S)


class TestHostileText:
    @settings(max_examples=200, deadline=None)
    @given(
        text=st.one_of(
            st.text(max_size=200),
            st.sampled_from(
                [
                    "[click|http://evil.example]",
                    "!http://evil.example/pixel.png!",
                    "[~accountid:123] ping",
                    "\\[not a link]",
                    "\\\\ line break?",
                    "{quote}escape{quote}",
                    "{noformat}{NoFormat}",
                    "h1. Big *bold* _it_ ~sub~ {{mono}}",
                ]
            ),
        ).filter(lambda t: t.strip())
    )
    def test_user_text_cannot_format_link_or_mention(self, text: str) -> None:
        """In quoted reasons every special character is escaped by exactly one backslash."""
        body = text[:3000]
        notices: list[Notice] = [
            Rejected(by=GRACE, reason=body, team="bpo", ends_request=True),
            ChangesRequested(by=PRIYA, team="qa", feedback=body),
            InfoRequested(by=ELENA, question=body, resume_stage=Stage.SIGN_OFF),
            Cancelled(by=ELENA, reason=body),
        ]
        for notice in notices:
            rendered = comment(notice)
            assert rendered is not None
            (quoted,) = quoted_bodies(rendered)
            assert "\\\\" not in quoted
            for index, char in enumerate(quoted):
                if char in SPECIAL:
                    assert quoted[index - 1 : index] == "\\", (char, quoted)
            assert "[~accountid:" not in rendered.replace(f"[~accountid:{ACCOUNT}]", "")

    @settings(max_examples=100, deadline=None)
    @given(change=st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
    def test_noformat_is_closed_only_by_us(self, change: str) -> None:
        """The proposed change is verbatim, and its own {noformat} cannot close ours."""
        for trap in ("", "{noformat}", "{NOFORMAT}"):
            assessment = make_assessment(ELENA).model_copy(
                update={"proposed_change": change + trap}
            )
            text = comment(AssessmentRecorded(assessment=assessment, round=1))
            assert text is not None
            assert len(re.findall(r"\{noformat\}", text, re.I)) == 2
