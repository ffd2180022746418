"""Training buttons on the wire (integrations.slack.training): rendered, and parsed totally."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import PayloadInvalid
from domain.training import build_training_case
from integrations.slack.training import (
    ANSWER,
    ANSWER_FAILS,
    ANSWER_PASSES,
    ATTEST,
    is_training_click,
    parse_training_click,
    render_training_card,
)

CASE = build_training_case(
    sop_id="SOP-LST-002",
    version=2,
    based_on_version=1,
    effective_date=date(2026, 12, 10),
    jira_key="MODREQ-1",
    summary="Serial numbers <@U123> & co",
    base_text="# T\n\n## 1. A\n\nOld.\n",
    new_text="# T\n\n## 1. A\n\nNew.\n",
    rationale="Because.",
    passes_example="a bag",
    fails_example="another bag",
)


def body(action_id: str, value: str, user: str = "U0BP00001") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": "C0TR00001"},
        "actions": [{"action_id": action_id, "value": value}],
    }


def test_card_buttons_parse_back() -> None:
    """Every button the card carries parses to the click it stands for."""
    _, blocks = render_training_card(CASE, jira_url="https://j/browse/MODREQ-1", teams=["QA"])
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    clicks = [parse_training_click(body(b["action_id"], b["value"])) for b in buttons]
    assert [(c.action, c.question, c.answer) for c in clicks] == [
        (ANSWER, "q1", True),
        (ANSWER, "q1", False),
        (ANSWER, "q2", True),
        (ANSWER, "q2", False),
        (ATTEST, None, None),
    ]
    # User text is escaped: no mention or link can be smuggled in by a summary.
    assert "<@U123>" not in json.dumps(blocks) and "&lt;@U123&gt;" in json.dumps(blocks)
    for block in blocks:
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids)), "Slack wants action ids unique in a block"


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        (ATTEST, "not json"),
        (ATTEST, json.dumps({"s": "SOP-LST-002"})),
        (ATTEST, json.dumps({"s": "sop; drop", "v": 2})),
        (ATTEST, json.dumps({"s": "SOP-LST-002", "v": True})),
        (ANSWER_PASSES, json.dumps({"s": "SOP-LST-002", "v": 2, "q": "q1", "a": 2})),
        (ANSWER_FAILS, json.dumps({"s": "SOP-LST-002", "v": 2, "q": "x" * 50, "a": 0})),
        ("govflow.training.other", json.dumps({"s": "SOP-LST-002", "v": 2})),
        (ATTEST, "[" * 10_000),
    ],
)
def test_malformed_values_are_refused(action_id: str, value: str) -> None:
    """Anything but a well-formed button value is PayloadInvalid."""
    with pytest.raises(PayloadInvalid):
        parse_training_click(body(action_id, value))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_payload_is_a_click_or_refused(payload: Any) -> None:
    """The parsers are total: a click or PayloadInvalid, never another exception."""
    shaped = {"actions": [{"action_id": ATTEST, "value": payload}], "user": payload}
    for candidate in (payload, shaped):
        if isinstance(candidate, dict):
            is_training_click(candidate)
            with contextlib.suppress(PayloadInvalid):
                parse_training_click(candidate)
