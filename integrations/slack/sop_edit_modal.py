"""The SOP owner's modal to revise a draft by section, before publishing or after a clash."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from domain.assessment import MAX_TEXT
from domain.lifecycle import SopConflict, SopDraft
from domain.sop_draft import edit_template
from domain.sop_sections import section_headings
from integrations.slack.action_ids import ActionId, InputId, modal_metadata
from integrations.slack.blocks import clip_mrkdwn, code_preview, mrkdwn_text, units
from integrations.slack.modal_parts import CHANGE_PLACEHOLDER, modal_view, text_input

DRAFT_HINT = (
    "Each section starts with its numbered heading and replaces that section of the draft; "
    "a new number adds a section, `@delete 5.3` removes one. Sections you leave out stay as "
    "they are."
)
# How much of a conflict the edit form shows; the SOP update card and the thread show it all.
CONFLICT_PREVIEW = 1500


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
        text_input(
            InputId.DRAFT,
            "Sections as they should read",
            template,
            hint=hint,
            placeholder=CHANGE_PLACEHOLDER,
        )
    )
    return modal_view(
        ActionId.SOP_EDIT,
        f"Edit {draft.sop_id}",
        "Save",
        blocks,
        modal_metadata(
            jira_key, round, channel_id=channel_id, message_ts=message_ts, sop=draft.sop_id
        ),
    )
