"""The assessment, reject, changes and ask modals: inputs, metadata, prefill and limits."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.views import View

from domain.assessment import Recommendation, Risk
from integrations.slack.action_ids import ActionId, InputId
from integrations.slack.assessment_modal import CHANGE_HINT, assessment_modal
from integrations.slack.reason_modals import ASK, CHANGES, REJECT, reason_modal
from sandbox.slack.blocks import VIEW_BLOCK_LIMIT
from tests.domain.test_lifecycle import ELENA, make_assessment
from tests.integrations.slack.test_cards import hostile_text, slack_problems, units

SOPS = [("SOP-LST-001", "Prohibited items"), ("SOP-LST-014", "Replica goods")]


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The view's input blocks by block id."""
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def options(element: dict[str, Any]) -> list[dict[str, Any]]:
    """Every option of a select, grouped or not."""
    return list(element.get("options", [])) + [
        o for group in element.get("option_groups", []) for o in group["options"]
    ]


def view_problems(view: dict[str, Any]) -> list[str]:
    """What Slack would refuse in the view, including its title, buttons and metadata."""
    problems = slack_problems(view["blocks"], limit=VIEW_BLOCK_LIMIT)
    for key in ("title", "submit", "close"):
        if units(view[key]["text"]) > 24:
            problems.append(f"{key} too long")
    if len(view["private_metadata"]) > 3000:
        problems.append("private_metadata too long")
    View(**view).to_dict()  # slack_sdk's own checks, on the finished dict
    return problems


class TestAssessmentModal:
    def test_has_the_seven_inputs_and_ties_back_to_the_card(self) -> None:
        """Recommendation, risk, change, SOPs, rationale and the two optional training
        examples (issue 15); metadata names key, round, card."""
        view = assessment_modal("MODREQ-12", 2, SOPS, channel_id="C0EX00001", message_ts="1.2")
        assert view["callback_id"] == ActionId.ASSESS
        assert json.loads(view["private_metadata"]) == {
            "k": "MODREQ-12",
            "r": 2,
            "c": "C0EX00001",
            "m": "1.2",
        }
        found = inputs(view)
        assert list(found) == [
            InputId.RECOMMENDATION,
            InputId.RISK,
            InputId.PROPOSED_CHANGE,
            InputId.AFFECTED_SOPS,
            InputId.RATIONALE,
            InputId.EXAMPLE_PASSES,
            InputId.EXAMPLE_FAILS,
        ]
        assert (
            found[InputId.EXAMPLE_PASSES]["optional"] and found[InputId.EXAMPLE_FAILS]["optional"]
        )
        assert [o["value"] for o in options(found[InputId.RECOMMENDATION]["element"])] == [
            r.value for r in Recommendation
        ]
        assert [o["value"] for o in options(found[InputId.RISK]["element"])] == [
            r.value for r in Risk
        ]
        change = found[InputId.PROPOSED_CHANGE]
        assert change["element"]["multiline"] and change["element"]["max_length"] == 3000
        assert change["hint"]["text"] == CHANGE_HINT and "@delete" in CHANGE_HINT
        assert change.get("optional") and found[InputId.AFFECTED_SOPS].get("optional")
        assert not found[InputId.RATIONALE].get("optional")
        assert found[InputId.AFFECTED_SOPS]["element"]["type"] == "multi_static_select"
        assert view_problems(view) == []

    def test_prefills_from_the_last_assessment(self) -> None:
        """Reopened after changes were requested, the form holds the last assessment."""
        initial = make_assessment(ELENA)
        found = inputs(assessment_modal("MODREQ-12", 1, SOPS, initial))
        assert found[InputId.RECOMMENDATION]["element"]["initial_option"]["value"] == "PROCEED"
        assert found[InputId.RISK]["element"]["initial_option"]["value"] == "MEDIUM"
        assert found[InputId.PROPOSED_CHANGE]["element"]["initial_value"] == (
            initial.proposed_change
        )
        chosen = found[InputId.AFFECTED_SOPS]["element"]["initial_options"]
        assert [o["value"] for o in chosen] == ["SOP-LST-014"]
        assert found[InputId.RATIONALE]["element"]["initial_value"] == initial.rationale

    def test_up_to_100_sops_are_plain_options(self) -> None:
        """A hundred SOPs fit one option list."""
        choices = [(f"SOP-LST-{i:03d}", f"Title {i}") for i in range(100)]
        element = inputs(assessment_modal("MODREQ-12", 0, choices))[InputId.AFFECTED_SOPS]
        assert len(element["element"]["options"]) == 100

    def test_more_sops_are_grouped_by_family(self) -> None:
        """Past 100 SOPs the options come in groups of at most 100, one family at a time."""
        choices = [(f"SOP-LST-{i:03d}", "t") for i in range(150)] + [("SOP-PAY-001", "Payments")]
        view = assessment_modal("MODREQ-12", 0, choices)
        element = inputs(view)[InputId.AFFECTED_SOPS]["element"]
        groups = element["option_groups"]
        assert [g["label"]["text"] for g in groups] == ["SOP-LST (1)", "SOP-LST (2)", "SOP-PAY"]
        assert all(len(g["options"]) <= 100 for g in groups)
        assert len(options(element)) == 151
        assert view_problems(view) == []

    def test_thousands_of_sops_are_clipped_with_a_note_keeping_the_chosen(self) -> None:
        """Beyond 1000 SOPs the rest are left out, a note says so, chosen ones stay."""
        choices = [
            (f"SOP-{chr(65 + i // 1000)}{chr(65 + i // 100 % 10)}-{i:04d}", "t")
            for i in range(2500)
        ]
        last = choices[-1][0]
        initial = make_assessment(ELENA).model_copy(update={"affected_sops": (last,)})
        view = assessment_modal("MODREQ-12", 0, choices, initial)
        element = inputs(view)[InputId.AFFECTED_SOPS]["element"]
        assert len(options(element)) == 1000
        assert len(element["option_groups"]) <= 100
        assert [o["value"] for o in element["initial_options"]] == [last]
        notes = [b for b in view["blocks"] if b["type"] == "context"]
        assert "1500 more SOPs are not listed" in notes[0]["elements"][0]["text"]
        assert view_problems(view) == []

    def test_many_small_families_fall_back_to_ranges(self) -> None:
        """If families would make over 100 groups, groups are id ranges instead."""
        choices = [(f"SOP-F{i:03d}-001", "t") for i in range(300)]
        view = assessment_modal("MODREQ-12", 0, choices)
        groups = inputs(view)[InputId.AFFECTED_SOPS]["element"]["option_groups"]
        assert next(g["label"]["text"] for g in groups) == "SOP-F000-001 to SOP-F099-001"
        assert view_problems(view) == []

    def test_without_sops_it_asks_for_typed_ids(self) -> None:
        """With no SOP list loaded the SOP input is a text box (Slack refuses empty selects)."""
        view = assessment_modal("MODREQ-12", 0, [])
        element = inputs(view)[InputId.AFFECTED_SOPS]["element"]
        assert element["type"] == "plain_text_input"
        assert view_problems(view) == []


class TestDecisionModals:
    def test_reject_modal(self) -> None:
        """The reject modal requires a reason and carries the team."""
        view = reason_modal(
            REJECT, "MODREQ-12", 1, team="qa", team_name="QA", channel_id="C0QA00001"
        )
        assert view["callback_id"] == ActionId.REJECT
        assert json.loads(view["private_metadata"]) == {
            "k": "MODREQ-12",
            "r": 1,
            "t": "qa",
            "c": "C0QA00001",
        }
        assert list(inputs(view)) == [InputId.REASON]
        assert not inputs(view)[InputId.REASON].get("optional")
        assert view_problems(view) == []

    def test_changes_modal(self) -> None:
        """The changes modal requires the feedback and carries the team."""
        view = reason_modal(CHANGES, "MODREQ-12", 3, team="bpo")
        assert view["callback_id"] == ActionId.CHANGES
        assert json.loads(view["private_metadata"]) == {"k": "MODREQ-12", "r": 3, "t": "bpo"}
        assert list(inputs(view)) == [InputId.FEEDBACK]
        assert view_problems(view) == []

    def test_ask_modal_with_and_without_team(self) -> None:
        """The ask modal requires the question; the team is there when asked from sign-off."""
        for team, expected in [
            (None, {"k": "MODREQ-12", "r": 0}),
            ("qa", {"k": "MODREQ-12", "r": 0, "t": "qa"}),
        ]:
            view = reason_modal(ASK, "MODREQ-12", 0, team=team)
            assert view["callback_id"] == ActionId.ASK
            assert json.loads(view["private_metadata"]) == expected
            assert list(inputs(view)) == [InputId.QUESTION]
            assert view_problems(view) == []


class TestHostileInput:
    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        titles=st.lists(hostile_text, max_size=5),
        ids=st.lists(st.text(min_size=1, max_size=200), max_size=5),
        name=hostile_text,
        key=st.text(max_size=60),
    )
    def test_modals_stay_valid(
        self, titles: list[str], ids: list[str], name: str, key: str
    ) -> None:
        """Odd SOP titles and ids, team names and keys still give views Slack accepts."""
        choices = [*zip(ids, titles, strict=False), *SOPS]
        assert view_problems(assessment_modal(key, 0, choices)) == []
        assert view_problems(reason_modal(REJECT, key, 1, team="qa", team_name=name)) == []
        assert view_problems(reason_modal(CHANGES, key, 1, team="qa", team_name=name)) == []
        assert view_problems(reason_modal(ASK, key, 1)) == []
