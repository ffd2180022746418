"""The SOP update on Slack: the owner's card, the edit and send-back modals, their round trip."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidTransition
from domain.lifecycle import EditDraft, PublishSop, SendBack, SopDraft
from domain.sop import content_hash
from domain.sop_change import ChangeKind
from integrations.slack.action_ids import ActionId, InputId
from integrations.slack.approval_card import approval_view, render_approval_card
from integrations.slack.interaction_events import (
    ensure_current,
    event_from_click,
    event_from_submission,
)
from integrations.slack.modal_for_click import modal_for_click
from integrations.slack.modal_inputs import SubmissionErrors
from integrations.slack.sop_announcement import render_sop_announcement
from integrations.slack.sop_edit_modal import sop_edit_modal
from integrations.slack.sop_update_card import render_sop_update_card, sop_update_view
from tests.domain.test_lifecycle import ELENA, T0, Flow
from tests.domain.test_lifecycle_sop import CHANGE, SOP, V1, signed_off, version
from tests.integrations.slack.test_cards import all_text, buttons, slack_problems
from tests.integrations.slack.test_interactions import JIRA_URL, THREAD_URL, click, submit
from tests.integrations.slack.test_modals import inputs, view_problems

Blocks = list[dict[str, Any]]


def owner_card(flow: Flow, round: int | None = None) -> Blocks:
    view = sop_update_view(
        flow.state, flow.rules, summary="s", jira_url=JIRA_URL, thread_url=THREAD_URL, round=round
    )
    return render_sop_update_card(view)[1]


class TestSopUpdateCard:
    def test_open_card_shows_the_diff_and_the_three_actions(self) -> None:
        """Signed off: the diff against v1, Publish, Edit per SOP and Send back, all valid."""
        blocks = owner_card(signed_off())
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        text = all_text(blocks)
        assert "Draft of SOP-LST-014" in text and "+Replicas are prohibited" in text
        actions = [b["action_id"] for b in buttons(blocks)]
        assert sorted(actions) == sorted(
            [ActionId.SOP_EDIT, ActionId.SOP_PUBLISH, ActionId.SOP_SEND_BACK]
        )

    def test_conflict_hides_publish_and_shows_the_hunks(self) -> None:
        """With a conflict the owner can resolve or send back, not publish."""
        flow = signed_off()
        flow.sops = {SOP: version(V1.replace("restricted to the collectibles", "allowed in"), 2)}
        flow.publish()
        blocks = owner_card(flow)
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        assert ActionId.SOP_PUBLISH not in [b["action_id"] for b in buttons(blocks)]
        assert "clashes" in all_text(blocks)

    def test_card_of_a_published_request_says_what_was_published(self) -> None:
        """After publication the card has no buttons and names the version."""
        flow = signed_off()
        flow.publish()
        blocks = owner_card(flow)
        assert buttons(blocks) == [] and "SOP-LST-014 v2" in all_text(blocks)

    def test_card_of_an_earlier_round_is_closed(self) -> None:
        """An edit reopened sign-off: round 1's card offers nothing to click."""
        flow = signed_off()
        flow.edit(SOP, "### 2.2 Evidence\n\nRecord two images.\n")
        blocks = owner_card(flow, round=1)
        assert buttons(blocks) == [] and "sign-off again" in all_text(blocks)

    def test_long_diffs_are_cut_and_point_at_the_thread(self) -> None:
        """A draft rewriting everything still makes a valid card, saying the diff is cut."""
        long = V1 + "".join(f"\n## {n}. Part\n\nText {n}.\n" for n in range(4, 200))
        flow = Flow.start()
        flow.sops = {SOP: version(long)}
        flow.claim(ELENA)
        flow.assess(ELENA, change="@replace\n# SOP-LST-014 Replica goods\n\n## 1. All new\n")
        flow.approve_all()
        blocks = owner_card(flow)
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        assert "full diff in the thread" in all_text(blocks)

    def test_approval_cards_show_the_draft_they_bind_to(self) -> None:
        """Approvers see the diff, not the typed change."""
        flow = Flow.start()
        flow.sops = {SOP: version(V1)}
        flow.claim(ELENA)
        flow.assess(ELENA, change=CHANGE)
        view = approval_view(
            flow.state, "qa", flow.rules, summary="s", jira_url=JIRA_URL, thread_url=THREAD_URL
        )
        blocks = render_approval_card(view)[1]
        assert slack_problems(blocks, urls=[JIRA_URL, THREAD_URL]) == []
        assert "Draft of SOP-LST-014" in all_text(blocks)
        assert "Proposed change" not in all_text(blocks)

    def test_announcement_is_valid(self) -> None:
        """The training channels' announcement names the version, the date and the change."""
        flow = signed_off()
        text, blocks = render_sop_announcement(
            jira_key="MODREQ-12",
            summary="Replicas are prohibited",
            jira_url=JIRA_URL,
            sop_id=SOP,
            version=2,
            effective_date=T0.date(),
            diff=flow.state.drafts[0].diff(),
        )
        assert slack_problems(blocks, urls=[JIRA_URL]) == []
        assert "SOP-LST-014 v2" in text and "+Replicas are prohibited" in all_text(blocks)


class TestRoundTrip:
    def test_publish_click_makes_the_event(self) -> None:
        """The Publish button records PublishSop for the clicker."""
        blocks = owner_card(signed_off())
        event = event_from_click(click(blocks, ActionId.SOP_PUBLISH, ELENA), ELENA, T0)
        assert isinstance(event, PublishSop) and event.effective_date is None

    def test_edit_opens_the_draft_and_saves_an_edit(self) -> None:
        """Edit opens the changed sections; the submission is EditDraft for that SOP."""
        flow = signed_off()
        pressed = click(owner_card(flow), ActionId.SOP_EDIT, ELENA)
        assert pressed.sop_id == SOP
        view = modal_for_click(pressed, state=flow.state)
        assert view is not None and view_problems(view) == []
        initial = inputs(view)[InputId.DRAFT]["element"]["initial_value"]
        assert initial.startswith("### 2.1 Replicas") and "prohibited in every category" in initial
        answers = {InputId.DRAFT: initial.replace("every category", "every market")}
        event = event_from_submission(submit(view, answers, ELENA), ELENA, T0)
        assert isinstance(event, EditDraft) and event.sop_id == SOP
        flow.send(event)
        assert "every market" in flow.state.drafts[0].text

    def test_a_malformed_edit_is_shown_in_the_modal(self) -> None:
        """Text before any numbered heading is a modal error under the input."""
        flow = signed_off()
        view = modal_for_click(click(owner_card(flow), ActionId.SOP_EDIT, ELENA), state=flow.state)
        assert view is not None
        with pytest.raises(SubmissionErrors) as caught:
            event_from_submission(submit(view, {InputId.DRAFT: "just words"}, ELENA), ELENA, T0)
        assert InputId.DRAFT in caught.value.errors

    def test_send_back_needs_a_reason(self) -> None:
        """The send-back modal records SendBack with the reason typed."""
        flow = signed_off()
        view = modal_for_click(click(owner_card(flow), ActionId.SOP_SEND_BACK, ELENA))
        assert view is not None and view_problems(view) == []
        event = event_from_submission(
            submit(view, {InputId.REASON: "Cover marketplaces"}, ELENA), ELENA, T0
        )
        assert isinstance(event, SendBack) and event.reason == "Cover marketplaces"

    def test_a_card_of_an_earlier_round_is_refused(self) -> None:
        """Publishing from round 1's card after an edit reopened sign-off is refused."""
        flow = signed_off()
        blocks = owner_card(flow)
        flow.edit(SOP, "### 2.2 Evidence\n\nRecord two images.\n")
        with pytest.raises(InvalidTransition, match="round 1"):
            ensure_current(click(blocks, ActionId.SOP_PUBLISH, ELENA), flow.state)


class TestEditModal:
    def test_sections_too_long_for_one_box_start_empty_with_a_note(self) -> None:
        """Slack boxes hold 3000 characters: a bigger change is edited section by section."""
        base = V1 + "".join(f"\n## {n}. Part\n\n" + "x" * 200 + "\n" for n in range(4, 40))
        # Edits accumulate: a draft can come to change more than one box holds.
        draft = SopDraft(
            sop_id=SOP,
            base_version=1,
            base_hash=content_hash(base),
            base_text=base,
            text=base.replace("x", "y"),
            kind=ChangeKind.SECTIONS,
        )
        view = sop_edit_modal("MODREQ-12", 1, draft)
        assert view_problems(view) == []
        assert inputs(view)[InputId.DRAFT]["element"].get("initial_value") is None
        assert "do not fit one Slack box" in all_text(view["blocks"])
