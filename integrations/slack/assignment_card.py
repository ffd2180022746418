"""The expert team's assignment card: the request's facts, who holds it, Claim/Assess/Ask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.models.blocks import ActionsBlock, Block, SectionBlock

from domain.entitlement import team_label
from domain.lifecycle import RequestState
from domain.precedents import Precedents
from domain.rules import Rules
from domain.stages import Stage, stage_label
from integrations.slack.action_ids import ActionId, button_value
from integrations.slack.blocks import (
    BLANK,
    FIELD_TEXT,
    MESSAGE_TEXT,
    clip_mrkdwn,
    link,
    mrkdwn_text,
    slack_mention,
)
from integrations.slack.card_parts import Blocks, button, links
from integrations.slack.precedents import precedent_blocks
from integrations.slack.request_status import feedback, outcome

MAX_FACTS = 6


@dataclass(frozen=True)
class AssignmentView:
    """What the expert team's assignment card shows; `outcome` once it left expert review."""

    jira_key: str
    round: int
    stage: str
    summary: str
    jira_url: str
    thread_url: str
    expert_team: str
    requester: str
    assignee: str | None = None
    assignee_slack_id: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    outcome: str = ""
    precedents: Precedents | None = None

    @property
    def is_open(self) -> bool:
        """Whether the card takes clicks: only while the request is in expert review."""
        return self.stage == Stage.EXPERT_REVIEW


def render_assignment_card(view: AssignmentView) -> tuple[str, Blocks]:
    """The expert team's card in the request's thread: facts, holder, Claim/Assess/Ask."""
    holder = _holder(view)
    if view.is_open:
        text = f"{view.jira_key} needs an expert assessment: {view.summary}"
    else:
        text = f"{view.jira_key}: {view.outcome or stage_label(view.stage)}"
    title = link(view.jira_url, f"{view.jira_key} · {view.summary}", 2800)
    fields = [
        mrkdwn_text(f"*Held by*\n{holder}", FIELD_TEXT),
        mrkdwn_text(f"*Requester*\n{clip_mrkdwn(view.requester, 1900)}", FIELD_TEXT),
        mrkdwn_text(f"*Expert team*\n{clip_mrkdwn(view.expert_team, 1900)}", FIELD_TEXT),
        *(
            mrkdwn_text(f"*{clip_mrkdwn(name, 100)}*\n{clip_mrkdwn(value, 1800)}", FIELD_TEXT)
            for name, value in view.facts[:MAX_FACTS]
        ),
    ]
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn_text(f"*Expert assessment* · {title}")),
        SectionBlock(fields=fields),
    ]
    if view.feedback:
        lines = "\n".join(f"• {clip_mrkdwn(line, 600)}" for line in view.feedback[:4])
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Sent back by sign-off*\n{lines}")))
    if view.is_open:
        # What the expert weighs while assessing (issue 15); gone once assessed.
        blocks += precedent_blocks(view.precedents, view.jira_url)
    if view.is_open:
        value = button_value(view.jira_key, view.round)
        claimed = view.assignee is not None
        blocks.append(
            ActionsBlock(
                block_id="govflow.assignment",
                elements=[
                    button(
                        "Take over" if claimed else "Claim",
                        ActionId.CLAIM,
                        value,
                        style=None if claimed else "primary",
                    ),
                    button(
                        "Submit assessment",
                        ActionId.ASSESS,
                        value,
                        style="primary" if claimed else None,
                    ),
                    button("Ask requester", ActionId.ASK, value),
                ],
            )
        )
    else:
        stage = stage_label(view.stage)
        outcome = f"*{clip_mrkdwn(stage, 100)}*"
        if view.outcome:
            outcome += f" · {clip_mrkdwn(view.outcome, 2500)}"
        blocks.append(SectionBlock(text=mrkdwn_text(outcome)))
    blocks.append(links(view.jira_url, view.thread_url, f"Round {view.round}"))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


def assignment_view(
    state: RequestState,
    rules: Rules,
    *,
    summary: str,
    jira_url: str,
    thread_url: str,
    facts: Sequence[tuple[str, str]] = (),
    precedents: Precedents | None = None,
) -> AssignmentView:
    """The assignment card's view of `state`; `facts` adds ("Priority", "P2")-style pairs."""
    assignee = state.assignee
    return AssignmentView(
        jira_key=state.key,
        round=state.round,
        stage=state.stage.value,
        summary=summary,
        jira_url=jira_url,
        thread_url=thread_url,
        expert_team=team_label(rules, state.expert_team),
        requester=state.requester.label,
        assignee=assignee.label if assignee is not None else None,
        assignee_slack_id=assignee.slack_id if assignee is not None else None,
        facts=list(facts),
        feedback=feedback(state, rules) if state.stage is Stage.EXPERT_REVIEW else [],
        outcome=outcome(state, rules),
        precedents=precedents,
    )


def _holder(view: AssignmentView) -> str:
    if view.assignee is None and view.assignee_slack_id is None:
        return "_Unclaimed_"
    return slack_mention(view.assignee_slack_id) or clip_mrkdwn(view.assignee or BLANK, 200)
