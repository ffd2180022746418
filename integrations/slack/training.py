"""The training case as a Slack message with its check and attest buttons, and their clicks.

The message is posted in the training channels with the publication's announcement. Each
check question has "Passes" / "Fails" buttons, and "I have read this" attests. Their action
ids start with `govflow.training.`, apart from the request buttons of `interactions`, and
carry compact JSON: `{"s": SOP id, "v": version}` plus `"q": question, "a": 1|0` on answers.
`parse_training_click` is total like the other parsers: a value or `PayloadInvalid`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)

from domain.errors import PayloadInvalid
from domain.training import TrainingCase
from integrations.slack.blocks import (
    BUTTON_TEXT,
    CONTEXT_TEXT,
    HEADER_TEXT,
    MESSAGE_TEXT,
    block_quote,
    clip,
    clip_mrkdwn,
    fit_lines,
    link,
    mrkdwn,
    mrkdwn_text,
    plain_text,
)

PREFIX = "govflow.training."
ANSWER = "govflow.training.answer"
# Slack wants action ids unique within a block: one per answer, both read as ANSWER.
ANSWER_PASSES = "govflow.training.answer.passes"
ANSWER_FAILS = "govflow.training.answer.fails"
ATTEST = "govflow.training.attest"
_SOP = re.compile(r"^SOP-[A-Z]{2,6}-\d{3,}$")
_QUESTION = re.compile(r"^q\d{1,2}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")


@dataclass(frozen=True)
class TrainingClick:
    """A click on a training message: an answer to one question, or the attestation."""

    action: str
    user_id: str
    sop_id: str
    version: int
    question: str | None = None
    answer: bool | None = None
    channel_id: str | None = None
    response_url: str | None = None


def is_training_click(body: Mapping[str, Any]) -> bool:
    """Whether a block_actions payload is a click on a training message."""
    actions = body.get("actions") if isinstance(body, Mapping) else None
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return False
    action = actions[0].get("action_id")
    return isinstance(action, str) and action.startswith(PREFIX)


def parse_training_click(body: Mapping[str, Any]) -> TrainingClick:
    """The training click in a block_actions payload, or PayloadInvalid."""
    try:
        action = body["actions"][0]
        action_id = action["action_id"]
        user_id = body["user"]["id"]
        raw = action["value"]
    except (KeyError, IndexError, TypeError) as exc:
        raise PayloadInvalid("the training click lacks its action, user or value") from exc
    if action_id in (ANSWER_PASSES, ANSWER_FAILS):
        action_id = ANSWER
    if action_id not in (ANSWER, ATTEST):
        raise PayloadInvalid(f"unknown training action {str(action_id)[:60]!r}")
    if not isinstance(user_id, str) or not _USER.match(user_id):
        raise PayloadInvalid("the clicking user's id is not a Slack user id")
    if not isinstance(raw, str) or len(raw) > 200:
        raise PayloadInvalid("the training button's value is not short text")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise PayloadInvalid("the training button's value is not JSON") from exc
    if not isinstance(value, dict):
        raise PayloadInvalid("the training button's value is not an object")
    sop, version = value.get("s"), value.get("v")
    if not isinstance(sop, str) or not _SOP.match(sop):
        raise PayloadInvalid("the training button names no SOP")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 10**6:
        raise PayloadInvalid("the training button names no version")
    question, answer = None, None
    if action_id == ANSWER:
        question, given = value.get("q"), value.get("a")
        if not isinstance(question, str) or not _QUESTION.match(question) or given not in (0, 1):
            raise PayloadInvalid("the answer button names no question or answer")
        answer = bool(given)
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, Mapping) else None
    channel_id = channel_id if isinstance(channel_id, str) else None
    response_url = body.get("response_url") if isinstance(body.get("response_url"), str) else None
    return TrainingClick(
        action_id, user_id, sop, version, question, answer, channel_id, response_url
    )


def render_training_card(
    case: TrainingCase,
    *,
    jira_url: str,
    teams: list[str],
    progress: tuple[int, int] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The training message: what changed, why, examples, the check, attest, progress."""
    ref = f"{case.sop_id} v{case.version}"
    text = f"Training: {ref}, effective {case.effective_date.isoformat()}: {case.summary}"
    changes = [f"• {mrkdwn(c.words)}" for c in case.changes]
    if case.other_text_changed:
        changes.append("• The text outside the numbered sections changed.")
    blocks: list[Block] = [
        HeaderBlock(text=plain_text(f"📚 Training · {ref}", HEADER_TEXT)),
        SectionBlock(
            text=mrkdwn_text(
                f"*{clip_mrkdwn(case.summary, 1500)}*\nEffective "
                f"*{case.effective_date.isoformat()}* · replaces v{case.based_on_version} · "
                f"{link(jira_url, case.jira_key, 600)}"
            )
        ),
        SectionBlock(
            text=mrkdwn_text(
                "*What changed*\n" + (fit_lines(changes, 2800) or "No numbered section changed.")
            )
        ),
        SectionBlock(
            text=mrkdwn_text(
                "*Why*\n" + block_quote(case.why or "The assessment gave no reasoning.", 2800)
            )
        ),
    ]
    if case.passes_example or case.fails_example:
        lines = []
        if case.passes_example:
            lines.append(f"✅ *Now passes:* {clip_mrkdwn(case.passes_example, 1300)}")
        if case.fails_example:
            lines.append(f"❌ *Now fails:* {clip_mrkdwn(case.fails_example, 1300)}")
        blocks.append(SectionBlock(text=mrkdwn_text("*Worked examples*\n" + "\n".join(lines))))
    else:
        blocks.append(
            SectionBlock(text=mrkdwn_text("*Worked examples*\nNone were given with this change."))
        )
    for question in case.check:
        blocks.append(
            SectionBlock(
                text=mrkdwn_text(
                    f"*Check {question.id}* · Under v{case.version}, does this listing pass?\n"
                    f"{block_quote(question.listing, 2500)}"
                )
            )
        )
        value = {"s": case.sop_id, "v": case.version, "q": question.id}
        blocks.append(
            ActionsBlock(
                block_id=f"govflow.training.{question.id}",
                elements=[
                    _button("Passes", ANSWER_PASSES, {**value, "a": 1}),
                    _button("Fails", ANSWER_FAILS, {**value, "a": 0}),
                ],
            )
        )
    who = ", ".join(teams) or "the configured teams"
    note = f"Everyone in {who} attests before {case.effective_date.isoformat()}"
    note += ", after answering the check." if case.check else "."
    if progress is not None:
        note += f" Attested so far: {progress[0]} of {progress[1]}."
    blocks.append(ContextBlock(elements=[mrkdwn_text(clip_mrkdwn(note, CONTEXT_TEXT))]))
    attest = _button("I have read this", ATTEST, {"s": case.sop_id, "v": case.version})
    attest.style = "primary"
    blocks.append(ActionsBlock(block_id="govflow.training.attest", elements=[attest]))
    return clip_mrkdwn(text, MESSAGE_TEXT), [b.to_dict() for b in blocks]


def render_reminder(case: TrainingCase, *, where: str) -> tuple[str, list[dict[str, Any]]]:
    """A direct message reminding one person to attest to a version before it takes effect."""
    ref = f"{case.sop_id} v{case.version}"
    text = (
        f"Reminder: {ref} takes effect on {case.effective_date.isoformat()} and you have not "
        f"attested to its training case yet. Read it and click “I have read this” in {where}."
    )
    return clip_mrkdwn(text, MESSAGE_TEXT), [
        SectionBlock(text=mrkdwn_text(clip_mrkdwn(text, 2900))).to_dict()
    ]


def _button(label: str, action: str, value: dict[str, Any]) -> ButtonElement:
    return ButtonElement(
        text=clip(label, BUTTON_TEXT),
        action_id=action,
        value=json.dumps(value, separators=(",", ":")),
    )
