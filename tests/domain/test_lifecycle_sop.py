"""The SOP update step of the lifecycle: drafts bound to sign-off, publish, edit, rebase, send back.

The registry is a dict of latest versions here, as the advance step passes it to `apply`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import InvalidTransition, NotEntitled
from domain.lifecycle import RequestState
from domain.notices import (
    DraftEdited,
    DraftPrepared,
    DraftRebased,
    DraftRefused,
    PublishConflict,
    SentBack,
    SignoffInvalidated,
    SopPublished,
)
from domain.signoff import Verdict
from domain.sop import SopVersion, content_hash, signoff_still_valid
from domain.stages import Stage
from tests.domain.test_lifecycle import ELENA, LUCAS, PRIYA, Flow, kinds

SOP = "SOP-LST-014"
V1 = """# SOP-LST-014 Replica goods

## 1. Purpose

Why replicas matter.

## 2. Rules

### 2.1 Replicas

Replicas are restricted to the collectibles category.

### 2.2 Evidence

Record one image.

## 3. Appeals

Sellers may appeal within 14 days.
"""
CHANGE = "### 2.1 Replicas\n\nReplicas are prohibited in every category.\n"


def version(text: str, number: int = 1, *, on: date = date(2026, 7, 1)) -> SopVersion:
    """A published version of the test SOP."""
    return SopVersion(
        sop_id=SOP,
        version=number,
        text=text,
        content_hash=content_hash(text),
        author="admin@example.com",
        effective_date=on,
        changelog="",
        jira_key=None,
        based_on_version=number - 1 or None,
        published_at=datetime(2026, 7, 1, tzinfo=UTC),
    )


def signed_off(flow: Flow | None = None) -> Flow:
    """A request whose drafts every team approved: it waits in SOP_UPDATE."""
    flow = flow or Flow.start()
    flow.sops = {SOP: version(V1)}
    flow.claim(ELENA)
    flow.assess(ELENA, change=CHANGE)
    flow.approve_all()
    assert flow.state.stage is Stage.SOP_UPDATE
    return flow


class TestDrafts:
    def test_proceed_builds_a_draft_against_the_latest_version(self) -> None:
        """The draft is the change applied to the registry's latest text, with its full diff."""
        flow = Flow.start()
        flow.sops = {SOP: version(V1)}
        flow.claim(ELENA)
        notices = flow.assess(ELENA, change=CHANGE)
        (draft,) = flow.state.drafts
        assert (draft.sop_id, draft.base_version, draft.base_hash) == (SOP, 1, content_hash(V1))
        assert "prohibited in every category" in draft.text and "Record one image" in draft.text
        (prepared,) = [n for n in notices if isinstance(n, DraftPrepared)]
        assert "+Replicas are prohibited in every category." in prepared.diff
        assert prepared.content_hash == draft.content_hash
        assert flow.state.stage is Stage.SIGN_OFF

    def test_decisions_record_the_hashes_they_approved(self) -> None:
        """Each approval carries the content hash of every draft it was given."""
        flow = signed_off()
        hashes = flow.state.draft_hashes
        approvals = [d for d in flow.state.decisions if d.verdict is Verdict.APPROVE]
        assert approvals and all(d.approved_hashes == hashes for d in approvals)
        (draft,) = flow.state.drafts
        assert signoff_still_valid(hashes[0], draft.text)

    def test_a_change_that_does_not_apply_stays_with_the_expert(self) -> None:
        """A section with no parent in the SOP keeps the request in expert review, saying why."""
        flow = Flow.start()
        flow.sops = {SOP: version(V1)}
        flow.claim(ELENA)
        notices = flow.assess(ELENA, change="### 9.1 Nowhere\n\nText.\n")
        (refused,) = [n for n in notices if isinstance(n, DraftRefused)]
        assert "9.1" in refused.problems[0] and SOP in refused.problems[0]
        assert flow.state.stage is Stage.EXPERT_REVIEW and flow.state.round == 0
        assert not flow.state.drafts

    def test_an_sop_missing_from_the_registry_cannot_be_published(self) -> None:
        """Sign-off goes on without a draft, but publishing is refused with the reason."""
        flow = Flow.start()
        flow.sops = {}
        flow.claim(ELENA)
        assert "draft_unavailable" in kinds(flow.assess(ELENA, change=CHANGE))
        flow.approve_all()
        assert flow.state.undrafted == (SOP,)
        with pytest.raises(InvalidTransition, match="registry"):
            flow.publish()

    def test_state_with_drafts_round_trips_through_json(self) -> None:
        """Drafts, their base text and hashes survive the ledger's JSON."""
        flow = signed_off()
        assert RequestState.model_validate_json(flow.state.model_dump_json()) == flow.state


class TestPublish:
    def test_publish_plans_the_next_versions_and_finishes(self) -> None:
        """Publishing on an unchanged registry makes v2, effective today, and ends DONE."""
        flow = signed_off()
        notices = flow.publish()
        (published,) = [n for n in notices if isinstance(n, SopPublished)]
        assert (published.version, published.based_on_version) == (2, 1)
        assert published.effective_date == date(2026, 12, 1)  # T0 in Kuala Lumpur
        assert [(v.sop_id, v.version) for v in flow.state.published] == [(SOP, 2)]
        assert flow.state.stage is Stage.DONE

    def test_only_the_owner_team_publishes(self) -> None:
        """An approver is not the SOP owner; the requester never publishes their own request."""
        flow = signed_off()
        with pytest.raises(NotEntitled, match="roster"):
            flow.publish(PRIYA)
        with pytest.raises(NotEntitled, match="You filed"):
            flow.publish(LUCAS)

    def test_publish_needs_sop_update(self) -> None:
        """Publishing during sign-off is refused whoever asks."""
        flow = Flow.start()
        flow.sops = {SOP: version(V1)}
        flow.claim(ELENA)
        flow.assess(ELENA, change=CHANGE)
        with pytest.raises(InvalidTransition, match="in sign-off"):
            flow.publish()

    def test_without_the_registry_publish_only_checks(self) -> None:
        """The receiver's quick check (no registry) decides nothing."""
        flow = signed_off()
        flow.sops = None
        assert flow.publish() == ()
        assert flow.state.stage is Stage.SOP_UPDATE

    def test_an_effective_date_before_today_is_refused(self) -> None:
        """Backdating would change which SOP applied to past decisions."""
        flow = signed_off()
        with pytest.raises(InvalidTransition, match="effective date"):
            flow.publish(on=date(2026, 11, 1))
        assert [n.version for n in flow.publish(on=date(2027, 1, 4)) if isinstance(n, SopPublished)]


class TestEdit:
    def test_edit_after_signoff_opens_a_fresh_round(self) -> None:
        """An edit changes the hash, so the approvals lapse and sign-off starts again."""
        flow = signed_off()
        before = flow.state.draft_hashes
        notices = flow.edit(SOP, "### 2.2 Evidence\n\nRecord two images.\n")
        assert kinds(notices)[:3] == ["draft_edited", "signoff_invalidated", "stage_changed"]
        (why,) = [n for n in notices if isinstance(n, SignoffInvalidated)]
        assert "edited the draft" in why.reason and why.round == 1
        assert flow.state.stage is Stage.SIGN_OFF and flow.state.round == 2
        assert flow.state.draft_hashes != before
        assert "Record two images" in flow.state.drafts[0].text
        flow.approve_all()
        published = [n for n in flow.publish() if isinstance(n, SopPublished)]
        assert published[0].content_hash == flow.state.draft_hashes[0]

    def test_an_edit_that_changes_nothing_is_refused(self) -> None:
        """Saving the draft as it is would reopen sign-off for nothing."""
        flow = signed_off()
        with pytest.raises(InvalidTransition, match="exactly as it was"):
            flow.edit(SOP, CHANGE)

    def test_edit_of_an_unknown_draft_is_refused(self) -> None:
        """Only the request's own drafts can be edited."""
        flow = signed_off()
        with pytest.raises(InvalidTransition, match="no draft"):
            flow.edit("SOP-LST-999", CHANGE)


class TestRebase:
    def test_a_clean_rebase_goes_back_to_signoff(self) -> None:
        """Another request published v2 elsewhere in the SOP: rebased, then re-approved."""
        flow = signed_off()
        v2 = V1.replace("within 14 days", "within 30 days")
        flow.sops = {SOP: version(v2, 2)}
        notices = flow.publish()
        (rebased,) = [n for n in notices if isinstance(n, DraftRebased)]
        assert (rebased.from_version, rebased.onto_version) == (1, 2)
        (why,) = [n for n in notices if isinstance(n, SignoffInvalidated)]
        assert f"{SOP} v2" in why.reason
        draft = flow.state.drafts[0]
        assert draft.base_version == 2
        assert "within 30 days" in draft.text and "prohibited in every category" in draft.text
        assert flow.state.stage is Stage.SIGN_OFF
        flow.approve_all()
        (published,) = [n for n in flow.publish() if isinstance(n, SopPublished)]
        assert published.version == 3

    def test_a_conflict_stays_with_the_owner(self) -> None:
        """Both changed section 2.1: nothing is published, the hunks are kept for the owner."""
        flow = signed_off()
        v2 = V1.replace("restricted to the collectibles category", "allowed with a permit")
        flow.sops = {SOP: version(v2, 2)}
        notices = flow.publish()
        (conflict,) = [n for n in notices if isinstance(n, PublishConflict)]
        assert "<<<<<<< draft" in conflict.conflict and conflict.current_version == 2
        assert flow.state.stage is Stage.SOP_UPDATE
        with pytest.raises(InvalidTransition, match="clashes"):
            flow.publish()
        resolved = "### 2.1 Replicas\n\nReplicas are prohibited, permit or not.\n"
        flow.edit(SOP, resolved)
        assert flow.state.stage is Stage.SIGN_OFF and not flow.state.conflicts
        draft = flow.state.drafts[0]
        assert draft.base_version == 2 and "permit or not" in draft.text


class TestSendBack:
    def test_send_back_returns_to_the_expert_with_the_reason(self) -> None:
        """The owner sends it back; the next assessment opens a new round with new drafts."""
        flow = signed_off()
        notices = flow.send_back("Section 2.2 must change too")
        (sent,) = [n for n in notices if isinstance(n, SentBack)]
        assert sent.reason == "Section 2.2 must change too" and sent.team == "experts"
        assert flow.state.stage is Stage.EXPERT_REVIEW
        flow.assess(ELENA, change=CHANGE + "\n### 2.2 Evidence\n\nRecord two images.\n")
        assert flow.state.round == 2 and "two images" in flow.state.drafts[0].text

    def test_send_back_needs_a_reason(self) -> None:
        """A blank reason is not a valid event."""
        flow = signed_off()
        with pytest.raises(ValueError, match="at least 1"):
            flow.send_back("   ")


def test_edited_notice_carries_the_new_diff() -> None:
    """The thread shows exactly what the edit made of the draft."""
    flow = signed_off()
    (edited,) = [
        n for n in flow.edit(SOP, "### 2.2 Evidence\n\nNo images.\n") if isinstance(n, DraftEdited)
    ]
    assert "+No images." in edited.diff and edited.previous_hash != edited.content_hash
