"""Assignment, approval and root cards: what they show, which buttons, and Slack's limits.

The module also holds the checks the other Block Kit tests share: `slack_problems` (the
Slack stand-in's block rules, every limit counted in UTF-16 units, and every mrkdwn text
free of anything but our own links and mentions) and `hostile_text`, text meant to break
them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.assessment import Recommendation
from domain.entitlement import Delegation
from domain.lifecycle import RequestState
from domain.people import Person
from domain.signoff import TeamState, Verdict
from integrations.slack.action_ids import ActionId
from integrations.slack.approval_card import (
    ApprovalView,
    DecisionLine,
    DelegateButton,
    approval_view,
    render_approval_card,
)
from integrations.slack.assignment_card import (
    AssignmentView,
    assignment_view,
    render_assignment_card,
)
from integrations.slack.blocks import RequestCard, render_request_root, safe_url
from integrations.slack.root_card import request_card_from_state
from sandbox.slack.blocks import block_problems
from tests.domain.test_lifecycle import (
    DANIEL,
    ELENA,
    GRACE,
    HANNAH,
    MARCO,
    PRIYA,
    TOMAS,
    Flow,
)

JIRA_URL = "https://jira.example.com/browse/MODREQ-12"
THREAD_URL = "https://example.slack.com/archives/C0EX00001/p1733020000000100"
SUMMARY = "Tighten the replica-goods rule for <fashion> & accessories"
TODAY = date(2026, 12, 1)

# --- shared checks ----------------------------------------------------------------------

NASTY = [
    "<!channel> urgent",
    "<https://evil.example|click me>",
    "<@U0QA00001>",
    "a > b & c < d",
    "&amp; &lt; already escaped?",
    "```code``` and `ticks`",
    "*bold* _it_ ~strike~",
    "\u202eevil reversed\u202c",
    "مرحبا بالعالم שלום",
    "🧨👩‍👩‍👧‍👦🇲🇾",
    "line\r\nbreaks\rand\x00nul\x1b[31m",
    "lone \ud800 surrogate",
    "|pipe|in|label>",
    "   ",
    "",
    "\\[~accountid:123]\\",
]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NASTY),
    st.builds(lambda piece, n: piece * n, st.sampled_from(NASTY[:12]), st.integers(1, 600)),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=3), st.integers(1, 5000)),
)
# What the domain's models can hold: pydantic refuses lone surrogates in strings.
storable = hostile_text.filter(lambda text: "\ud800" not in text)
hostile_url = st.one_of(
    st.sampled_from(
        [
            JIRA_URL,
            "https://jira.example.com/browse/X?a=1&b=<2>|x y",
            "javascript:alert(1)",
            "",
            "https://" + "a" * 2500,
        ]
    ),
    st.text(max_size=30),
)

_LINK = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"@[UW][A-Z0-9]{2,31}")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
# UTF-16 limits by where a text object sits.
_LIMITS = {
    ("header", "text"): 150,
    ("section", "text"): 3000,
    ("section", "fields"): 2000,
    ("context", "elements"): 3000,
    ("button", "text"): 75,
    ("option", "text"): 75,
    ("option_group", "label"): 75,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("element", "placeholder"): 150,
    ("view", "title"): 24,
    ("view", "submit"): 24,
    ("view", "close"): 24,
}


def units(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def slack_problems(
    blocks: list[dict[str, Any]], *, urls: Iterable[str] = (), limit: int = 50
) -> list[str]:
    """Everything in `blocks` Slack would refuse or that lets user text out of its place."""
    allowed = {u for u in (safe_url(url) for url in urls) if u is not None}
    problems = block_problems(blocks, limit=limit, pointer="/blocks")
    for where, kind, text in _texts(blocks, "block", "blocks"):
        if not text.strip():
            problems.append(f"{where}: blank text")
        cap = _LIMITS.get(_limit_key(where), 3000)
        if units(text) > cap:
            problems.append(f"{where}: {units(text)} units > {cap}")
        if kind == "mrkdwn":
            problems += _mrkdwn_problems(where, text, allowed)
    for where, value, cap in _values(blocks, "blocks"):
        if units(value) > cap:
            problems.append(f"{where}: value of {units(value)} units > {cap}")
    return problems


def _limit_key(where: str) -> tuple[str, str]:
    parts = where.split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


def _texts(node: Any, parent: str, key: str) -> Iterator[tuple[str, str, str]]:
    """(parent-type/key, text type, text) of every text object under `node`."""
    if isinstance(node, list):
        for item in node:
            yield from _texts(item, parent, key)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield f"{parent}/{key}", kind, node["text"]
            return
        here = _kind(node, parent)
        for child_key, child in node.items():
            yield from _texts(child, here, child_key)


def _kind(node: dict[str, Any], parent: str) -> str:
    kind = node.get("type")
    if kind in ("static_select", "multi_static_select", "plain_text_input"):
        return "element"
    if kind in ("section", "header", "context", "actions", "input", "button", "modal"):
        return "view" if kind == "modal" else str(kind)
    if "value" in node and "text" in node:
        return "option"
    if "label" in node and "options" in node:
        return "option_group"
    return parent


def _values(node: Any, where: str) -> Iterator[tuple[str, str, int]]:
    if isinstance(node, list):
        for item in node:
            yield from _values(item, where)
    elif isinstance(node, dict):
        if isinstance(node.get("value"), str):
            yield where, node["value"], 2000 if node.get("type") == "button" else 150
        for name in ("block_id", "action_id"):
            if isinstance(node.get(name), str):
                yield f"{where}/{name}", node[name], 255
        for key, child in node.items():
            yield from _values(child, f"{where}/{key}")


def _mrkdwn_problems(where: str, text: str, allowed: set[str]) -> list[str]:
    problems = []
    for inside in _LINK.findall(text):
        if _MENTION.fullmatch(inside):
            continue
        url, bar, _label = inside.partition("|")
        if not bar or url not in allowed:
            problems.append(f"{where}: foreign link or command <{inside[:60]}>")
    # `>` opening a line is our block quote; user text cannot produce one (it is escaped).
    outside = re.sub(r"(?m)^>", "", _LINK.sub("", text))
    if "<" in outside or ">" in outside:
        problems.append(f"{where}: raw angle bracket in {outside[:80]!r}")
    if _ENTITY.search(text):
        problems.append(f"{where}: bare & in {text[:80]!r}")
    return problems


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button element of the message, in order."""
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every text of the blocks, joined, for `in` checks."""
    return "\n".join(text for _, _, text in _texts(blocks, "block", "blocks"))


# --- the assignment card ----------------------------------------------------------------


def assignment(state: RequestState, flow: Flow) -> tuple[str, list[dict[str, Any]]]:
    view = assignment_view(
        state,
        flow.rules,
        summary=SUMMARY,
        jira_url=JIRA_URL,
        thread_url=THREAD_URL,
        facts=[("Priority", "P2"), ("Market", "MY")],
    )
    return render_assignment_card(view)


class TestAssignmentCard:
    def test_unclaimed_request_offers_claim_assess_and_ask(self) -> None:
        """In expert review the card has the three buttons, each carrying key and round."""
        flow = Flow.start()
        text, blocks = assignment(flow.state, flow)
        assert [b["action_id"] for b in buttons(blocks)] == [
            ActionId.CLAIM,
            ActionId.ASSESS,
            ActionId.ASK,
        ]
        assert {json.dumps(json.loads(b["value"])) for b in buttons(blocks)} == {
            json.dumps({"k": "MODREQ-12", "r": 0})
        }
        assert "Unclaimed" in all_text(blocks)
        assert "&lt;fashion&gt; &amp; accessories" in text
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []

    def test_claimed_request_names_the_assignee(self) -> None:
        """Once claimed the card mentions the assignee and offers to take over."""
        flow = Flow.start()
        flow.claim(ELENA)
        _, blocks = assignment(flow.state, flow)
        assert "<@U0EX00001>" in all_text(blocks)
        assert buttons(blocks)[0]["text"]["text"] == "Take over"

    def test_card_closes_once_the_request_left_expert_review(self) -> None:
        """After a PROCEED the card has no buttons and says sign-off is open."""
        flow = Flow.start().to_signoff()
        text, blocks = assignment(flow.state, flow)
        assert buttons(blocks) == []
        assert "sign-off round 1 is open" in all_text(blocks)
        assert "sign-off round 1 is open" in text

    def test_card_shows_why_sign_off_sent_it_back(self) -> None:
        """Back in expert review after changes, the card quotes the feedback."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa", Verdict.REQUEST_CHANGES, "Cover marketplaces too.")
        _, blocks = assignment(flow.state, flow)
        assert next(b["action_id"] for b in buttons(blocks)) == ActionId.CLAIM
        assert json.loads(buttons(blocks)[0]["value"])["r"] == 1
        assert "Cover marketplaces too." in all_text(blocks)

    def test_question_is_the_outcome_while_waiting(self) -> None:
        """In NEEDS_INFO the card shows the open question instead of buttons."""
        flow = Flow.start()
        flow.ask(ELENA, "Which markets?")
        _, blocks = assignment(flow.state, flow)
        assert buttons(blocks) == []
        assert "Which markets?" in all_text(blocks)

    def test_rejection_is_the_outcome(self) -> None:
        """An expert's rejection closes the card with the rationale."""
        flow = Flow.start()
        flow.assess(ELENA, Recommendation.REJECT, rationale="Duplicates SOP-LST-002.")
        _, blocks = assignment(flow.state, flow)
        assert buttons(blocks) == []
        assert "Duplicates SOP-LST-002." in all_text(blocks)


# --- the approval card ------------------------------------------------------------------


def approval(
    flow: Flow, team: str = "qa", **options: Any
) -> tuple[ApprovalView, tuple[str, list[dict[str, Any]]]]:
    view = approval_view(
        flow.state,
        team,
        flow.rules,
        summary=SUMMARY,
        jira_url=JIRA_URL,
        thread_url=THREAD_URL,
        **options,
    )
    return view, render_approval_card(view)


class TestApprovalCard:
    def test_open_card_has_four_buttons_for_the_team(self) -> None:
        """Approve, Reject, Request changes and Ask, each carrying key, team and round."""
        flow = Flow.start().to_signoff()
        _view, (text, blocks) = approval(flow)
        assert [b["action_id"] for b in buttons(blocks)] == [
            ActionId.APPROVE,
            ActionId.REJECT,
            ActionId.CHANGES,
            ActionId.ASK,
        ]
        for button in buttons(blocks):
            assert json.loads(button["value"]) == {"k": "MODREQ-12", "r": 1, "t": "qa"}
        assert "needs sign-off from QA" in text
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []

    def test_card_shows_assessment_quorum_and_progress(self) -> None:
        """The expert's recommendation, risk, SOPs and the team's progress are on the card."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        view, (_, blocks) = approval(flow)
        body = all_text(blocks)
        assert view.progress == "1 of 2 approvals"
        assert view.quorum == "every approver (2)"
        for expected in [
            "Proceed to sign-off",
            "MEDIUM",
            "SOP-LST-014",
            "1 of 2 approvals",
            "Elena Petrova",
            "Replica goods are prohibited",
            "✅ Priya Raman approved",
        ]:
            assert expected in body

    def test_decisions_show_reasons_and_delegation(self) -> None:
        """Each decision line says who, the verdict, for whom, and why."""
        view = ApprovalView(
            jira_key="MODREQ-12",
            team="bpo",
            team_name="BPO Ops",
            round=1,
            current_round=1,
            stage="SIGN_OFF",
            team_state="REJECTED",
            summary="s",
            jira_url=JIRA_URL,
            thread_url=THREAD_URL,
            quorum="2 of 3 approvers",
            progress="0 of 2 approvals, rejected",
            decisions=[
                DecisionLine(
                    who="Grace", verdict="REJECT", reason="Too broad", on_behalf_of="Marco"
                )
            ],
        )
        _, blocks = render_approval_card(view)
        assert "❌ Grace rejected for Marco: Too broad" in all_text(blocks)
        assert buttons(blocks) == []

    def test_nameless_approvers_are_shown_as_mentions(self) -> None:
        """An approver known only by Slack id (and the member they stood in for) is mentioned."""
        flow = Flow.start().to_signoff()
        flow.delegations.append(
            Delegation(approver=TOMAS, delegate=PRIYA, start=TODAY, until=TODAY)
        )
        flow.decide(Person(slack_id="U0QA00001"), "qa", for_=Person(slack_id="U0QA00002"))
        _, (_, blocks) = approval(flow)
        assert "✅ <@U0QA00001> approved for <@U0QA00002>" in all_text(blocks)

    def test_approve_for_button_per_active_delegation(self) -> None:
        """A delegation for an undecided member adds an "Approve for" button naming them."""
        flow = Flow.start().to_signoff()
        away = Delegation(approver=TOMAS, delegate=PRIYA, start=TODAY, until=TODAY)
        _, (_, blocks) = approval(flow, delegations_for_team=[away], names={"U0QA00002": "Tomas"})
        delegated = [b for b in buttons(blocks) if b["action_id"] == ActionId.APPROVE_FOR]
        assert [b["text"]["text"] for b in delegated] == ["Approve for Tomas"]
        assert json.loads(delegated[0]["value"]) == {
            "k": "MODREQ-12",
            "r": 1,
            "t": "qa",
            "o": "U0QA00002",
        }
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []

    def test_lapsed_delegations_are_left_out_given_the_date(self) -> None:
        """With `on` given, a delegation that does not cover that date adds no button."""
        flow = Flow.start().to_signoff()
        away = Delegation(approver=TOMAS, delegate=PRIYA, start=TODAY, until=TODAY)
        for on, expected in [(TODAY, 1), (date(2026, 12, 2), 0)]:
            view, _ = approval(flow, delegations_for_team=[away], on=on)
            assert len(view.delegations) == expected

    def test_no_approve_for_once_the_member_decided(self) -> None:
        """A member whose decision is in gets no button, nor does a non-member."""
        flow = Flow.start().to_signoff()
        flow.decide(TOMAS, "qa")
        delegations = [
            Delegation(approver=TOMAS, delegate=PRIYA, start=TODAY, until=TODAY),
            Delegation(approver=HANNAH, delegate=PRIYA, start=TODAY, until=TODAY),
        ]
        _, (_, blocks) = approval(flow, delegations_for_team=delegations)
        assert ActionId.APPROVE_FOR not in [b["action_id"] for b in buttons(blocks)]

    def test_many_delegations_stay_within_slack_limits(self) -> None:
        """Each delegate button has its own row; at most ten rows are rendered."""
        view = ApprovalView(
            jira_key="MODREQ-12",
            team="qa",
            team_name="QA",
            round=1,
            current_round=1,
            stage="SIGN_OFF",
            team_state="PENDING",
            summary="s",
            jira_url=JIRA_URL,
            thread_url=THREAD_URL,
            quorum="q",
            progress="p",
            delegations=[DelegateButton(entry=f"U0QA{i:05d}", name=f"M{i}") for i in range(40)],
        )
        _, blocks = render_approval_card(view)
        assert len([b for b in buttons(blocks) if b["action_id"] == ActionId.APPROVE_FOR]) == 10
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []

    @pytest.mark.parametrize(
        ("verdict", "shown"),
        [
            (Verdict.APPROVE, "Approved"),
            (Verdict.REJECT, "Rejected"),
            (Verdict.REQUEST_CHANGES, "Changes requested"),
        ],
    )
    def test_decided_team_card_has_no_buttons(self, verdict: Verdict, shown: str) -> None:
        """Once the team is no longer pending the card shows its final state only."""
        flow = Flow.start().to_signoff()
        flow.decide(HANNAH, "product", verdict, "" if verdict is Verdict.APPROVE else "No.")
        view, (text, blocks) = approval(flow, team="product")
        assert not view.is_open
        assert buttons(blocks) == []
        assert shown in all_text(blocks)
        assert shown in text

    def test_stale_round_card_has_no_buttons(self) -> None:
        """An earlier round's card, rendered again, says a newer round has its own card."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa", Verdict.REQUEST_CHANGES, "More detail.")
        flow.assess(ELENA)
        view, (_, blocks) = approval(flow, round=1)
        assert view.is_stale and buttons(blocks) == []
        assert "round 2 has its own card" in all_text(blocks)
        _, (_, current) = approval(flow)
        assert json.loads(buttons(current)[0]["value"])["r"] == 2

    def test_paused_request_card_has_no_buttons(self) -> None:
        """While the requester is asked a question nobody can decide."""
        flow = Flow.start().to_signoff()
        flow.ask(TOMAS)
        _, (_, blocks) = approval(flow)
        assert buttons(blocks) == []
        assert "Paused" in all_text(blocks)

    def test_long_change_is_clipped_with_a_pointer_to_the_thread(self) -> None:
        """A long proposed change is cut and says the full text is in the thread."""
        view = ApprovalView(
            jira_key="MODREQ-12",
            team="qa",
            team_name="QA",
            round=1,
            current_round=1,
            stage="SIGN_OFF",
            team_state="PENDING",
            summary="s",
            jira_url=JIRA_URL,
            thread_url=THREAD_URL,
            quorum="q",
            progress="p",
            proposed_change="### 4.2 Indicators\n" + "& `x` <y> " * 300,
        )
        _, blocks = render_approval_card(view)
        body = all_text(blocks)
        assert f"<{THREAD_URL}|full text in the thread>" in body
        assert "```" in body and "`x`" not in body
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []

    def test_team_outside_the_signoff_is_a_caller_error(self) -> None:
        """Asking for the card of a team that does not sign off is a bug in the caller."""
        flow = Flow.start().to_signoff()
        with pytest.raises(ValueError, match="does not need sign-off"):
            approval(flow, team="experts")


# --- the root card ----------------------------------------------------------------------


class TestRequestRoot:
    def card(self, state: RequestState, flow: Flow) -> RequestCard:
        return request_card_from_state(
            state,
            flow.rules,
            summary=SUMMARY,
            jira_url=JIRA_URL,
            requester_label="Lucas Martin",
            clocks=["Expert review due Tue 3 Dec 17:00"],
            priority="P2",
            market="MY",
        )

    def test_root_shows_stage_holder_and_team_states(self) -> None:
        """In sign-off the root lists each team's state and who still has to decide."""
        flow = Flow.start().to_signoff()
        flow.decide(PRIYA, "qa")
        flow.decide(HANNAH, "product")
        card = self.card(flow.state, flow)
        assert card.stage == "SIGN_OFF"
        assert card.held_by == "QA, BPO Ops"
        assert card.signoff == [
            ("QA", "Pending · 1 of 2 approvals"),
            ("BPO Ops", "Pending · 0 of 2 approvals"),
            ("Product", "Approved"),
        ]
        text, blocks = render_request_root(card)
        assert "Stakeholder sign-off" in text
        assert "• Product: Approved" in all_text(blocks)
        assert slack_problems(blocks, urls=[JIRA_URL]) == []

    def test_root_names_the_assignee_or_says_unclaimed(self) -> None:
        """In expert review the holder is the assignee, else the expert team, unclaimed."""
        flow = Flow.start()
        assert self.card(flow.state, flow).held_by == "Listing Experts (unclaimed)"
        flow.claim(DANIEL)
        assert self.card(flow.state, flow).held_by == "Daniel Kim"

    def test_root_note_tells_the_rejection_reason(self) -> None:
        """A rejected request's root says who rejected it and why."""
        flow = Flow.start().to_signoff()
        flow.decide(GRACE, "bpo", Verdict.REJECT, "Conflicts with local law.")
        card = self.card(flow.state, flow)
        assert card.note == "Rejected by BPO Ops: Conflicts with local law."
        assert card.held_by == "—"

    def test_intake_style_card_still_renders(self) -> None:
        """The fields intake fills keep working unchanged."""
        card = RequestCard(
            jira_key="MODREQ-1",
            jira_url=JIRA_URL,
            summary="s",
            request_type="Policy change",
            domain="Listings",
            market="MY",
            priority="P3",
            stage="EXPERT_REVIEW",
            held_by="Listing Experts",
            requester="Lucas",
        )
        text, blocks = render_request_root(card)
        assert text == "MODREQ-1 · s · Expert review"
        assert blocks[0]["text"]["text"] == "MODREQ-1 · Policy change"
        assert slack_problems(blocks, urls=[JIRA_URL]) == []


# --- hostile text -----------------------------------------------------------------------


class TestHostileText:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        summary=hostile_text,
        name=hostile_text,
        reason=hostile_text,
        change=hostile_text,
        url=hostile_url,
        facts=st.lists(st.tuples(hostile_text, hostile_text), max_size=8),
        sops=st.lists(hostile_text, max_size=30),
    )
    def test_cards_stay_valid_and_contained(
        self,
        summary: str,
        name: str,
        reason: str,
        change: str,
        url: str,
        facts: list[tuple[str, str]],
        sops: list[str],
    ) -> None:
        """Whatever people typed, every card is one Slack accepts, with no foreign links."""
        urls = [url, THREAD_URL]
        for open_ in (True, False):
            view = AssignmentView(
                jira_key="MODREQ-12",
                round=1,
                stage="EXPERT_REVIEW" if open_ else "REJECTED",
                summary=summary,
                jira_url=url,
                thread_url=THREAD_URL,
                expert_team=name,
                requester=name,
                assignee=name,
                facts=facts,
                feedback=[reason, reason],
                outcome=reason,
            )
            _, blocks = render_assignment_card(view)
            assert slack_problems(blocks, urls=urls) == []
        approval_card = ApprovalView(
            jira_key="MODREQ-12",
            team="qa",
            team_name=name,
            round=1,
            current_round=1,
            stage="SIGN_OFF",
            team_state=TeamState.PENDING,
            summary=summary,
            jira_url=url,
            thread_url=THREAD_URL,
            quorum=name,
            progress=reason,
            recommendation=name,
            risk=name,
            proposed_change=change,
            affected_sops=sops,
            rationale=reason,
            expert=name,
            decisions=[DecisionLine(who=name, verdict=v, reason=reason) for v in Verdict] * 5,
            delegations=[DelegateButton(entry="U0QA00002", name=name)],
            other_teams=[(name, reason)] * 12,
        )
        _, blocks = render_approval_card(approval_card)
        assert slack_problems(blocks, urls=urls) == []
        root = RequestCard(
            jira_key="MODREQ-12",
            jira_url=url,
            summary=summary,
            request_type=name,
            domain=name,
            market=name,
            priority=name,
            stage="SIGN_OFF",
            held_by=name,
            requester=name,
            signoff=[(name, reason)] * 12,
            clocks=[reason] * 3,
            note=reason,
        )
        _, blocks = render_request_root(root)
        assert slack_problems(blocks, urls=urls) == []

    @settings(max_examples=30, deadline=None)
    @given(reason=storable.filter(lambda r: 0 < len(r.strip()) <= 3000), who=storable)
    def test_cards_from_state_with_hostile_reasons(self, reason: str, who: str) -> None:
        """Reasons and names recorded by the lifecycle render safely on every card."""
        flow = Flow.start().to_signoff()
        named = Person(slack_id=MARCO.slack_id, name=who[:200])
        flow.decide(GRACE, "bpo")
        flow.decide(named, "bpo", Verdict.REQUEST_CHANGES, reason)
        for team in ("qa", "bpo", "product"):
            _, (_, blocks) = approval(flow, team=team)
            assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        _, blocks = assignment(flow.state, flow)
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        card = TestRequestRoot().card(flow.state, flow)
        assert slack_problems(render_request_root(card)[1], urls=[JIRA_URL]) == []


class TestTheChecks:
    def test_foreign_links_raw_brackets_and_bare_ampersands_are_caught(self) -> None:
        """The containment check itself notices each way out of a text."""
        section = {"type": "section", "text": {"type": "mrkdwn", "text": ""}}

        def problems(text: str) -> list[str]:
            section["text"]["text"] = text  # type: ignore[index]
            return slack_problems([section], urls=[JIRA_URL])

        assert problems(f"<{JIRA_URL}|ok> <@U0QA00001> &amp; &lt;") == []
        assert problems("<https://evil.example|x>")
        assert problems("<!channel>")
        assert problems("a > b")
        assert problems("fish & chips")

    def test_limits_are_counted_in_utf16_units(self) -> None:
        """A header of 76 emoji is 152 units: over the 150 limit."""
        header = {"type": "header", "text": {"type": "plain_text", "text": "🧨" * 76}}
        assert slack_problems([header]) != []
