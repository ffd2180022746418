"""The expert's assessment modal: recommendation, risk, proposed change, affected SOPs."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    Option,
    OptionGroup,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
)

from domain.assessment import MAX_SOPS, Assessment, Recommendation, Risk
from domain.precedents import Precedents
from integrations.slack.action_ids import ActionId, InputId, modal_metadata
from integrations.slack.blocks import clip_mrkdwn, mrkdwn_text, plain_text
from integrations.slack.modal_parts import (
    CHANGE_PLACEHOLDER,
    OPTION_TEXT,
    modal_view,
    option,
    select,
    text_input,
)
from integrations.slack.precedents import precedent_blocks

# Slack: a select offers at most 100 options, or 100 groups of at most 100 options.
MAX_OPTIONS = 100
MAX_GROUPS = 100
# Past this many SOPs the form grows heavy to open and to scroll; the rest are named in a note.
MAX_SOP_OPTIONS = 1000

RECOMMENDATION_CHOICES = {
    Recommendation.PROCEED: "Proceed to sign-off",
    Recommendation.REJECT: "Reject",
    Recommendation.NEEDS_INFO: "Needs info from requester",
}
RISK_CHOICES = {
    Risk.LOW: "Low",
    Risk.MEDIUM: "Medium",
    Risk.HIGH: "High",
    Risk.CRITICAL: "Critical",
}
CHANGE_HINT = (
    "Section edits: start each with its numbered heading, e.g. `### 4.2 Counterfeit "
    "indicators`, then the section's new text; a new number adds a section; `@delete 5.3` "
    "removes one. Or write `@replace` on the first line and then the whole new SOP."
)


def assessment_modal(
    jira_key: str,
    round: int,
    sop_choices: Sequence[tuple[str, str]],
    initial: Assessment | None = None,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
    precedents: Precedents | None = None,
    jira_url: str = "",
) -> dict[str, Any]:
    """The expert's assessment form; `sop_choices` are (SOP id, title), `initial` prefills it.

    `precedents` (kept at routing) are shown above the inputs; `jira_url` is the request's
    Jira URL, from which the precedents' links are made.
    """
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn_text(f"Your assessment of *{clip_mrkdwn(jira_key, 100)}*.")),
        *precedent_blocks(precedents, jira_url),
        select(
            InputId.RECOMMENDATION,
            "Recommendation",
            RECOMMENDATION_CHOICES,
            initial.recommendation if initial else None,
        ),
        select(InputId.RISK, "Risk level", RISK_CHOICES, initial.risk if initial else None),
        text_input(
            InputId.PROPOSED_CHANGE,
            "Proposed change",
            initial.proposed_change if initial else "",
            optional=True,
            hint=CHANGE_HINT,
            placeholder=CHANGE_PLACEHOLDER,
        ),
        *_sop_input(sop_choices, initial.affected_sops if initial else ()),
        text_input(
            InputId.RATIONALE,
            "Rationale",
            initial.rationale if initial else "",
            hint="Why you recommend this. For “Needs info”, this is the question put to the "
            "requester on Jira.",
        ),
        text_input(
            InputId.EXAMPLE_PASSES,
            "A listing that now passes",
            initial.example_passes if initial else "",
            optional=True,
            hint="For the reviewers' training case: a listing the change lets through. "
            "It becomes a question of the training check.",
        ),
        text_input(
            InputId.EXAMPLE_FAILS,
            "A listing that now fails",
            initial.example_fails if initial else "",
            optional=True,
            hint="A listing the change stops. Without examples the training case says none "
            "were given.",
        ),
    ]
    return modal_view(
        ActionId.ASSESS,
        f"Assess {jira_key}",
        "Submit",
        blocks,
        modal_metadata(jira_key, round, channel_id=channel_id, message_ts=message_ts),
    )


def _sop_input(choices: Sequence[tuple[str, str]], initial: Sequence[str]) -> list[Block]:
    """The affected-SOPs picker: a multi-select, grouped past 100, or a text box if none."""
    titles = dict(choices)
    # Initially chosen SOPs are offered even if the registry no longer lists them.
    for sop in initial:
        titles.setdefault(sop, "")
    label = plain_text("Affected SOPs", 2000)
    if not titles:
        # Slack refuses a select without options; let the expert type ids instead.
        box = PlainTextInputElement(
            action_id=InputId.AFFECTED_SOPS.value,
            initial_value=", ".join(initial) or None,
            placeholder=plain_text("SOP-LST-001, SOP-LST-014", 150),
        )
        return [
            InputBlock(
                block_id=InputId.AFFECTED_SOPS.value,
                label=label,
                element=box,
                optional=True,
                hint=plain_text("No SOP list is loaded: type SOP ids, comma separated.", 2000),
            )
        ]
    # The initial ones first, so clipping never drops a choice already made.
    ids = sorted(titles, key=lambda sop: (sop not in initial, sop))[:MAX_SOP_OPTIONS]
    kept = sorted(ids)
    options = {sop: option(sop, f"{sop} · {titles[sop]}" if titles[sop] else sop) for sop in kept}
    selected = [options[sop] for sop in initial if sop in options][:MAX_SOPS]
    common: dict[str, Any] = {
        "action_id": InputId.AFFECTED_SOPS.value,
        "placeholder": plain_text("Choose the SOPs this changes", 150),
        "max_selected_items": MAX_SOPS,
        "initial_options": selected or None,
    }
    if len(options) <= MAX_OPTIONS:
        element = StaticMultiSelectElement(options=list(options.values()), **common)
    else:
        element = StaticMultiSelectElement(option_groups=_groups(options), **common)
    blocks: list[Block] = [
        InputBlock(
            block_id=InputId.AFFECTED_SOPS.value,
            label=label,
            element=element,
            optional=True,
            hint=plain_text(f"Up to {MAX_SOPS}. Required when you recommend proceeding.", 2000),
        )
    ]
    left_out = len(titles) - len(kept)
    if left_out > 0:
        note = (
            f"{left_out} more SOPs are not listed here. If one of them is affected, name it "
            "in the rationale."
        )
        blocks.append(ContextBlock(elements=[mrkdwn_text(note)]))
    return blocks


def _groups(options: dict[str, Option]) -> list[OptionGroup]:
    """Options in groups of at most 100: by SOP family (SOP-LST-…), or by id range if the
    families would make more than 100 groups."""
    items = list(options.items())
    families = [
        (family, [option for _, option in members])
        for family, members in groupby(items, key=lambda item: _family(item[0]))
    ]
    groups: list[OptionGroup] = []
    for family, listed in families:
        for start in range(0, len(listed), MAX_OPTIONS):
            part = listed[start : start + MAX_OPTIONS]
            suffix = f" ({start // MAX_OPTIONS + 1})" if len(listed) > MAX_OPTIONS else ""
            groups.append(OptionGroup(label=plain_text(family + suffix, OPTION_TEXT), options=part))
    if len(groups) <= MAX_GROUPS:
        return groups
    ranges: list[OptionGroup] = []
    for start in range(0, len(items), MAX_OPTIONS):
        chunk = items[start : start + MAX_OPTIONS]
        label = f"{chunk[0][0]} to {chunk[-1][0]}"
        ranges.append(
            OptionGroup(label=plain_text(label, OPTION_TEXT), options=[o for _, o in chunk])
        )
    return ranges


def _family(sop: str) -> str:
    """`SOP-LST` for `SOP-LST-014`: the part before the number."""
    head, _, _ = sop.rpartition("-")
    return head or sop
