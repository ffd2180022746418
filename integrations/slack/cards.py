"""Re-exports of govflow's Slack cards, kept for `bench/ack.py`, which imports them from here.

Each card is its own module now: `root_card` (the thread root's card from a request's state),
`assignment_card`, `approval_card` (a sign-off team's card), `sop_update_card`,
`sop_announcement`; with `draft_diffs`, `request_status` (a request's standing in a card's
words, and `/govflow status`) and `card_parts` beside them. Import from those.
"""

from __future__ import annotations

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
from integrations.slack.card_parts import Blocks
from integrations.slack.draft_diffs import DraftDiff, draft_diff, render_diff_preview
from integrations.slack.request_status import status_text
from integrations.slack.root_card import request_card_from_state
from integrations.slack.sop_announcement import render_sop_announcement
from integrations.slack.sop_update_card import (
    ConflictView,
    SopUpdateView,
    render_sop_update_card,
    sop_update_view,
)

__all__ = [
    "ApprovalView",
    "AssignmentView",
    "Blocks",
    "ConflictView",
    "DecisionLine",
    "DelegateButton",
    "DraftDiff",
    "SopUpdateView",
    "approval_view",
    "assignment_view",
    "draft_diff",
    "render_approval_card",
    "render_assignment_card",
    "render_diff_preview",
    "render_sop_announcement",
    "render_sop_update_card",
    "request_card_from_state",
    "sop_update_view",
    "status_text",
]
