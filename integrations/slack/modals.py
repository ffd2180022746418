"""The modals govflow opens from its buttons, as `views.open` view dicts.

Each modal's `callback_id` is the `ActionId` of the button that opens it, and its
`private_metadata` (`modal_metadata`) ties the submission back to the request, round, team
and the card it was opened from (Slack does not say which message a modal came from). Input
block ids are `InputId`s, which `interaction_events.event_from_submission` reads and under
which `modal_inputs.SubmissionErrors` are shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from itertools import groupby
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    Option,
    OptionGroup,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from domain.assessment import MAX_SOPS, MAX_TEXT, Assessment, Recommendation, Risk
from domain.lifecycle import RequestState, SopConflict, SopDraft
from domain.precedents import Precedents
from domain.sop_draft import edit_template
from domain.sop_sections import section_headings
from integrations.slack.action_ids import ActionId, InputId, modal_metadata
from integrations.slack.blocks import (
    clip,
    clip_mrkdwn,
    code_preview,
    mrkdwn_text,
    plain_text,
    units,
)
from integrations.slack.interaction_parsing import ButtonClick
from integrations.slack.precedents import precedent_blocks

# Slack: a select offers at most 100 options, or 100 groups of at most 100 options; an option
# label holds 75 characters and its value 150; a modal title 24.
MAX_OPTIONS = 100
MAX_GROUPS = 100
# Past this many SOPs the form grows heavy to open and to scroll; the rest are named in a note.
MAX_SOP_OPTIONS = 1000
OPTION_TEXT = 75
OPTION_VALUE = 150
TITLE_TEXT = 24

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
_E = TypeVar("_E", bound=StrEnum)

CHANGE_PLACEHOLDER = "### 4.2 Counterfeit indicators, then the new text of 4.2"
DRAFT_HINT = (
    "Each section starts with its numbered heading and replaces that section of the draft; "
    "a new number adds a section, `@delete 5.3` removes one. Sections you leave out stay as "
    "they are."
)
# How much of a conflict the edit form shows; the SOP update card and the thread show it all.
CONFLICT_PREVIEW = 1500


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
        _select(
            InputId.RECOMMENDATION,
            "Recommendation",
            RECOMMENDATION_CHOICES,
            initial.recommendation if initial else None,
        ),
        _select(InputId.RISK, "Risk level", RISK_CHOICES, initial.risk if initial else None),
        _text_input(
            InputId.PROPOSED_CHANGE,
            "Proposed change",
            initial.proposed_change if initial else "",
            optional=True,
            hint=CHANGE_HINT,
            placeholder=CHANGE_PLACEHOLDER,
        ),
        *_sop_input(sop_choices, initial.affected_sops if initial else ()),
        _text_input(
            InputId.RATIONALE,
            "Rationale",
            initial.rationale if initial else "",
            hint="Why you recommend this. For “Needs info”, this is the question put to the "
            "requester on Jira.",
        ),
        _text_input(
            InputId.EXAMPLE_PASSES,
            "A listing that now passes",
            initial.example_passes if initial else "",
            optional=True,
            hint="For the reviewers' training case: a listing the change lets through. "
            "It becomes a question of the training check.",
        ),
        _text_input(
            InputId.EXAMPLE_FAILS,
            "A listing that now fails",
            initial.example_fails if initial else "",
            optional=True,
            hint="A listing the change stops. Without examples the training case says none "
            "were given.",
        ),
    ]
    return _modal(
        ActionId.ASSESS,
        f"Assess {jira_key}",
        "Submit",
        blocks,
        modal_metadata(jira_key, round, channel_id=channel_id, message_ts=message_ts),
    )


def reject_modal(
    jira_key: str,
    team: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask a sign-off member why they reject the change (required)."""
    who = clip_mrkdwn(team_name or team, 200)
    intro = f"You are rejecting *{clip_mrkdwn(jira_key, 100)}* for {who}, round {round}."
    return _modal(
        ActionId.REJECT,
        "Reject the change",
        "Reject",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            _text_input(
                InputId.REASON,
                "Why do you reject it?",
                hint="The requester and the expert see this reason.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def changes_modal(
    jira_key: str,
    team: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask a sign-off member what should change before they can approve (required)."""
    who = clip_mrkdwn(team_name or team, 200)
    intro = (
        f"*{clip_mrkdwn(jira_key, 100)}* goes back to the expert with your feedback "
        f"on behalf of {who}."
    )
    return _modal(
        ActionId.CHANGES,
        "Request changes",
        "Send back",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            _text_input(
                InputId.FEEDBACK,
                "What should change?",
                hint="Be specific: the expert revises the assessment from this.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def ask_modal(
    jira_key: str,
    round: int,
    team: str | None = None,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask the requester a question on Jira (required); the request waits for the answer."""
    return _modal(
        ActionId.ASK,
        "Ask the requester",
        "Ask",
        [
            _text_input(
                InputId.QUESTION,
                "Your question",
                hint="Posted on the Jira issue, mentioning the requester. The request and its "
                "SLA clocks pause until they answer there.",
            ),
        ],
        modal_metadata(jira_key, round, team=team, channel_id=channel_id, message_ts=message_ts),
    )


def sop_edit_modal(
    jira_key: str,
    round: int,
    draft: SopDraft,
    conflict: SopConflict | None = None,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """The SOP owner's form to revise one draft, by section (Slack boxes hold 3000 characters).

    It starts from the sections the draft changes; when those do not fit one box it starts
    empty and says so. Saving an edit sends the request through sign-off again.
    """
    sop = clip_mrkdwn(draft.sop_id, 64)
    key = clip_mrkdwn(jira_key, 100)
    if conflict is None:
        intro = (
            f"Revise the draft of *{sop}* (built on v{draft.base_version}) for *{key}*. The "
            "approvals were given to the current text, so saving an edit starts a new sign-off "
            "round."
        )
    else:
        intro = (
            f"*{sop}* v{conflict.current_version} was published after this draft was written, "
            f"and the two clash. Write the sections as they should read on "
            f"v{conflict.current_version}: everything you leave out keeps v"
            f"{conflict.current_version}'s text. Saving starts a new sign-off round."
        )
    blocks: list[Block] = [SectionBlock(text=mrkdwn_text(intro))]
    if conflict is not None:
        shown, _ = code_preview(conflict.conflict, CONFLICT_PREVIEW)
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Where they clash*\n{shown}")))
    template = edit_template(draft.base_text, draft.text)
    if not template.strip() and conflict is None and units(draft.text) < MAX_TEXT - 10:
        template = "@replace\n" + draft.text
    hint = DRAFT_HINT
    if units(template) > MAX_TEXT or not template.strip():
        headings = list(section_headings(draft.text))
        listing = ", ".join(headings[:60]) + (", …" if len(headings) > 60 else "")
        note = (
            f"The sections this draft changes do not fit one Slack box ({MAX_TEXT} characters), "
            "so the box starts empty: paste only the sections you change, each under its "
            f"numbered heading. Sections of the draft: {listing or 'none are numbered'}."
        )
        blocks.append(ContextBlock(elements=[mrkdwn_text(clip_mrkdwn(note, 2900))]))
        template = ""
    blocks.append(
        _text_input(
            InputId.DRAFT,
            "Sections as they should read",
            template,
            hint=hint,
            placeholder=CHANGE_PLACEHOLDER,
        )
    )
    return _modal(
        ActionId.SOP_EDIT,
        f"Edit {draft.sop_id}",
        "Save",
        blocks,
        modal_metadata(
            jira_key, round, channel_id=channel_id, message_ts=message_ts, sop=draft.sop_id
        ),
    )


def send_back_modal(
    jira_key: str,
    round: int,
    *,
    team_name: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> dict[str, Any]:
    """Ask the SOP owner why the update goes back to expert review (required)."""
    who = f" for {clip_mrkdwn(team_name, 200)}" if team_name else ""
    intro = (
        f"*{clip_mrkdwn(jira_key, 100)}* goes back to expert review{who}; nothing is "
        "published. The expert revises the assessment and sign-off starts again."
    )
    return _modal(
        ActionId.SOP_SEND_BACK,
        "Send back",
        "Send back",
        [
            SectionBlock(text=mrkdwn_text(intro)),
            _text_input(
                InputId.REASON,
                "Why does it go back?",
                hint="The expert, the approvers and the requester see this reason.",
            ),
        ],
        modal_metadata(jira_key, round, channel_id=channel_id, message_ts=message_ts),
    )


def modal_for_click(
    click: ButtonClick,
    *,
    sop_choices: Sequence[tuple[str, str]] = (),
    initial: Assessment | None = None,
    team_name: str | None = None,
    state: RequestState | None = None,
    precedents: Precedents | None = None,
    jira_url: str = "",
) -> dict[str, Any] | None:
    """The modal a click opens, tied to the card clicked; None for clicks that open none.

    The SOP edit form needs `state` (the drafts as the ledger has them).
    """
    where = {"channel_id": click.channel_id, "message_ts": click.message_ts}
    if click.action is ActionId.SOP_EDIT:
        draft = state.draft(click.sop_id) if state and click.sop_id else None
        if state is None or draft is None:
            return None
        conflict = state.conflict(draft.sop_id)
        return sop_edit_modal(click.jira_key, click.round, draft, conflict, **where)
    if click.action is ActionId.SOP_SEND_BACK:
        return send_back_modal(click.jira_key, click.round, team_name=team_name, **where)
    if click.action is ActionId.ASSESS:
        return assessment_modal(
            click.jira_key,
            click.round,
            sop_choices,
            initial,
            precedents=precedents,
            jira_url=jira_url,
            **where,
        )
    if click.action is ActionId.ASK:
        return ask_modal(click.jira_key, click.round, click.team, **where)
    if click.team is None:
        return None
    if click.action is ActionId.REJECT:
        return reject_modal(click.jira_key, click.team, click.round, team_name=team_name, **where)
    if click.action is ActionId.CHANGES:
        return changes_modal(click.jira_key, click.team, click.round, team_name=team_name, **where)
    return None


# --- pieces -----------------------------------------------------------------------------


def _modal(
    callback: ActionId, title: str, submit: str, blocks: list[Block], metadata: str
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback.value,
        title=plain_text(title, TITLE_TEXT),
        submit=plain_text(submit, TITLE_TEXT),
        close=plain_text("Cancel", TITLE_TEXT),
        blocks=blocks,
        private_metadata=metadata,
    )
    return view.to_dict()


def _text_input(
    input_id: InputId,
    label: str,
    initial: str = "",
    *,
    optional: bool = False,
    hint: str = "",
    placeholder: str = "",
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=input_id.value,
        multiline=True,
        max_length=MAX_TEXT,
        # An initial value longer than max_length would make Slack refuse the whole view.
        initial_value=clip(initial, MAX_TEXT) if initial.strip() else None,
        placeholder=plain_text(placeholder, 150) if placeholder else None,
    )
    return InputBlock(
        block_id=input_id.value,
        label=plain_text(label, 2000),
        element=element,
        optional=optional,
        hint=plain_text(hint, 2000) if hint else None,
    )


def _option(value: str, label: str) -> Option:
    return Option(value=value[:OPTION_VALUE], text=plain_text(label, OPTION_TEXT))


def _select(
    input_id: InputId, label: str, choices: Mapping[_E, str], initial: _E | None
) -> InputBlock:
    options = {key: _option(str(key), text) for key, text in choices.items()}
    element = StaticSelectElement(
        action_id=input_id.value,
        options=list(options.values()),
        initial_option=options.get(initial) if initial is not None else None,
        placeholder=plain_text("Choose…", 150),
    )
    return InputBlock(block_id=input_id.value, label=plain_text(label, 2000), element=element)


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
    options = {sop: _option(sop, f"{sop} · {titles[sop]}" if titles[sop] else sop) for sop in kept}
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
