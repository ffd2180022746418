"""What each lifecycle notice tells whom: notices in, outbox rows out (one transaction).

Cards posted once and updated in place are found again through `RequestRow.facts`: the
expert's assignment card (`assignment_card`) and the SOP owner team's update card
(`sop_update_card`, posted when sign-off completes, one per completed round). Each SOP version
published is announced once per channel of `sops.announce_channels`, under the key
`{jira_key}:announce:{sop}:{version}:{channel}`, so a repeated step queues nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.entitlement import Delegation, local_date
from domain.lifecycle import RequestState
from domain.notices import (
    AssessmentRecorded,
    ChangesRequested,
    Claimed,
    DecisionRecorded,
    InfoReceived,
    InfoRequested,
    Notice,
    Rejected,
    RequesterMatched,
    SentBack,
    SignoffComplete,
    SignoffOpened,
    SopPublished,
    StageChanged,
)
from domain.rules import Rules
from domain.stages import Stage
from govflow.training import training_case_posts
from integrations.db.models import RequestRow
from integrations.db.outbox import enqueue_effect
from integrations.delivery import EffectKind
from integrations.jira.notices import jira_comment
from integrations.slack.approval_card import approval_view, render_approval_card
from integrations.slack.assignment_card import assignment_view, render_assignment_card
from integrations.slack.blocks import render_request_root
from integrations.slack.notices import thread_reply
from integrations.slack.precedents import kept_precedents
from integrations.slack.root_card import request_card_from_state
from integrations.slack.sop_announcement import render_sop_announcement
from integrations.slack.sop_update_card import render_sop_update_card, sop_update_view


@dataclass(frozen=True)
class EffectContext:
    """What rendering effects needs besides the notices."""

    rules: Rules
    jira_browse_url: str
    delegations: Sequence[Delegation] = ()

    def issue_url(self, key: str) -> str:
        """The browser URL of a Jira issue."""
        return f"{self.jira_browse_url.rstrip('/')}/browse/{key}"


class EffectWriter:
    """Queues the effects of one request's changes with stable idempotency keys."""

    def __init__(
        self, session: Session, row: RequestRow, context: EffectContext, now: datetime
    ) -> None:
        self.session = session
        self.row = row
        self.context = context
        self.now = now

    def queue(self, kind: str, payload: dict[str, Any], suffix: str) -> str:
        """Queue one effect; the key makes a repeat of the same fact harmless."""
        key = f"{self.row.jira_key}:{suffix}"
        enqueue_effect(
            self.session,
            request_id=self.row.id,
            kind=kind,
            payload=payload,
            idempotency_key=key,
            now=self.now,
        )
        return key

    def notices(self, state: RequestState, notices: Sequence[Notice], origin: str) -> None:
        """Queue thread replies, Jira comments, transitions and card changes for `notices`."""
        rules = self.context.rules
        posted = self.row.facts.get("sop_update_card")
        for index, notice in enumerate(notices):
            suffix = f"{origin}:{index}"
            reply = thread_reply(notice, rules)
            if reply is not None:
                text, blocks = reply
                self.queue(
                    EffectKind.SLACK_REPLY, {"text": text, "blocks": blocks}, f"reply:{suffix}"
                )
            comment = jira_comment(
                notice, rules, requester_account_id=self.row.requester_account_id
            )
            if comment is not None:
                self.queue(EffectKind.JIRA_COMMENT, {"body": comment}, f"comment:{suffix}")
            if isinstance(notice, StageChanged):
                self.transition(notice.to_stage, suffix)
            self._cards_for(state, notice, suffix)
        card = self.row.facts.get("sop_update_card")
        if notices and card is not None and card == posted:
            # Any change may close, pause or reopen the owner's card; newer updates supersede.
            self._update_sop_card(state, str(card), origin)

    def transition(self, stage: Stage, suffix: str) -> None:
        """Move the Jira issue to the status mapped for `stage`, if any."""
        status = self.context.rules.jira.status_mapping.get(stage)
        if status:
            self.queue(EffectKind.JIRA_TRANSITION, {"status": status}, f"status:{suffix}")

    def assignment_card(self, state: RequestState) -> None:
        """Post the expert team's assignment card for the current round in the thread."""
        text, blocks = render_assignment_card(self._assignment_view(state))
        card = self.queue(
            EffectKind.SLACK_REPLY, {"text": text, "blocks": blocks}, f"assignment:{state.round}"
        )
        # Later updates must find this card even after the round has moved on.
        self.row.facts = {**self.row.facts, "assignment_card": card}

    def refresh_root(self, state: RequestState, clocks: list[str]) -> None:
        """Bring the thread's root message up to date (older queued updates are dropped)."""
        card = request_card_from_state(
            state,
            self.context.rules,
            summary=self.row.summary,
            jira_url=self.context.issue_url(self.row.jira_key),
            requester_label=state.requester.label,
            clocks=clocks,
        )
        text, blocks = render_request_root(card)
        stamp = self.now.isoformat()
        self.queue(EffectKind.SLACK_ROOT_UPDATE, {"text": text, "blocks": blocks}, f"root:{stamp}")

    def _cards_for(self, state: RequestState, notice: Notice, suffix: str) -> None:
        if isinstance(notice, SignoffOpened):
            for signoff in notice.teams:
                text, blocks = render_approval_card(self._approval_view(state, signoff.team))
                channel = self.context.rules.teams[signoff.team].slack_channel
                self.queue(
                    EffectKind.SLACK_POST,
                    {"channel": channel, "text": text, "blocks": blocks},
                    _approval_key(state.round, signoff.team),
                )
        elif isinstance(notice, DecisionRecorded):
            self._update_approval(state, notice.decision.team, suffix)
        elif isinstance(notice, SignoffComplete | Rejected | ChangesRequested) or (
            # A question pauses sign-off (cards lose their buttons) and the answer resumes it;
            # a requester found on a roster changes what that team's card counts.
            isinstance(notice, InfoRequested | InfoReceived | RequesterMatched)
            and state.round > 0
            and Stage.SIGN_OFF in (state.stage, state.resume_stage)
        ):
            for signoff in state.signoff:
                self._update_approval(state, signoff.team, suffix)
        if isinstance(
            notice, Claimed | AssessmentRecorded | ChangesRequested | Rejected | SentBack
        ):
            self._update_assignment(state, suffix)
        sent_back = isinstance(notice, ChangesRequested | SentBack)
        if sent_back and state.stage == Stage.EXPERT_REVIEW:
            self.assignment_card(state)
        if isinstance(notice, SignoffComplete) and state.stage == Stage.SOP_UPDATE:
            self.sop_update_card(state)
        if isinstance(notice, SopPublished):
            self.announce(notice)
            self.training_case(state, notice)

    def training_case(self, state: RequestState, notice: SopPublished) -> None:
        """Post the published version's training case in the training channels."""
        context = self.context
        for post in training_case_posts(
            self.session, context.rules, self.row, state, notice, self.now, context.issue_url
        ):
            payload = {"channel": post.channel, "text": post.text, "blocks": post.blocks}
            self.queue(EffectKind.SLACK_POST, payload, post.suffix)

    def sop_update_card(self, state: RequestState) -> None:
        """Post the SOP owner team's update card for the round just signed off."""
        earlier = self.row.facts.get("sop_update_card")
        if earlier is not None:
            # The card of an earlier round must stop offering Publish on drafts since changed.
            self._update_sop_card(state, str(earlier), f"before:{state.round}")
        view = self._sop_update_view(state, state.round)
        text, blocks = render_sop_update_card(view)
        channel = self.context.rules.teams[state.owner_team].slack_channel
        card = self.queue(
            EffectKind.SLACK_POST,
            {"channel": channel, "text": text, "blocks": blocks},
            f"sop_update:{state.round}",
        )
        facts = {"sop_update_card": card, "sop_update_round": state.round}
        self.row.facts = {**self.row.facts, **facts}

    def announce(self, notice: SopPublished) -> None:
        """Announce a published version in every configured channel, once per channel."""
        text, blocks = render_sop_announcement(
            jira_key=self.row.jira_key,
            summary=self.row.summary,
            jira_url=self.context.issue_url(self.row.jira_key),
            sop_id=notice.sop_id,
            version=notice.version,
            effective_date=notice.effective_date,
            diff=notice.diff,
        )
        for channel in self.context.rules.sops.announce_channels:
            self.queue(
                EffectKind.SLACK_POST,
                {"channel": channel, "text": text, "blocks": blocks},
                f"announce:{notice.sop_id}:{notice.version}:{channel}",
            )

    def _update_sop_card(self, state: RequestState, card: str, origin: str) -> None:
        round_ = int(self.row.facts.get("sop_update_round", state.round))
        text, blocks = render_sop_update_card(self._sop_update_view(state, round_))
        self.queue(
            EffectKind.SLACK_CARD_UPDATE,
            {"card": card, "text": text, "blocks": blocks},
            f"card:sop_update:{origin}",
        )

    def _sop_update_view(self, state: RequestState, round_: int) -> Any:
        return sop_update_view(
            state,
            self.context.rules,
            summary=self.row.summary,
            jira_url=self.context.issue_url(self.row.jira_key),
            thread_url=self._thread_url(),
            round=round_,
        )

    def _update_approval(self, state: RequestState, team: str, suffix: str) -> None:
        text, blocks = render_approval_card(self._approval_view(state, team))
        card = f"{self.row.jira_key}:{_approval_key(state.round, team)}"
        self.queue(
            EffectKind.SLACK_CARD_UPDATE,
            {"card": card, "text": text, "blocks": blocks},
            f"card:{team}:{suffix}",
        )

    def _update_assignment(self, state: RequestState, suffix: str) -> None:
        card = self.row.facts.get("assignment_card")
        if card is None:
            return
        text, blocks = render_assignment_card(self._assignment_view(state))
        self.queue(
            EffectKind.SLACK_CARD_UPDATE,
            {"card": card, "text": text, "blocks": blocks},
            f"card:assignment:{suffix}",
        )

    def _assignment_view(self, state: RequestState) -> Any:
        return assignment_view(
            state,
            self.context.rules,
            summary=self.row.summary,
            jira_url=self.context.issue_url(self.row.jira_key),
            thread_url=self._thread_url(),
            precedents=kept_precedents(self.row.facts),
        )

    def _approval_view(self, state: RequestState, team: str) -> Any:
        return approval_view(
            state,
            team,
            self.context.rules,
            summary=self.row.summary,
            jira_url=self.context.issue_url(self.row.jira_key),
            thread_url=self._thread_url(),
            delegations_for_team=list(self.context.delegations),
            on=local_date(self.context.rules, team, self.now),
        )

    def _thread_url(self) -> str:
        # Known once the root message is delivered (the deliverer asks Slack for it).
        return str(self.row.facts.get("thread_url", ""))


def _approval_key(round_: int, team: str) -> str:
    return f"approval:{round_}:{team}"
