"""The stage table: one declaration per stage, and what is derived from it."""

from __future__ import annotations

from domain.stages import STAGES, TERMINAL, TIMED_STAGES, TRANSITIONS, Stage, Turn, stage_label


def test_every_stage_is_declared_once() -> None:
    """Each stage has its words, timing and turn; the transition table knows every one."""
    assert set(STAGES) == set(Stage) == set(TRANSITIONS)
    for info in STAGES.values():
        assert info.label and info.noun and info.words


def test_timed_stages_are_the_working_ones() -> None:
    """SLA clocks run where a team has the next move, in lifecycle order."""
    assert TIMED_STAGES == (Stage.EXPERT_REVIEW, Stage.SIGN_OFF, Stage.SOP_UPDATE)
    assert all(STAGES[s].turn in {Turn.EXPERTS, Turn.SIGNOFF, Turn.SOP_OWNER} for s in TIMED_STAGES)


def test_final_stages_are_nobodys_turn_and_lead_nowhere() -> None:
    """A final stage has no transition out and nobody to wait for."""
    assert {Stage.DONE, Stage.REJECTED, Stage.CANCELLED} == TERMINAL
    assert all(not TRANSITIONS[s] for s in TERMINAL)


def test_labels_by_member_value_or_unknown_name() -> None:
    """Cards pass stage values from the ledger; a name no stage has is shown as it is."""
    assert stage_label(Stage.SIGN_OFF) == stage_label("SIGN_OFF") == "Stakeholder sign-off"
    assert stage_label("LEGACY") == "LEGACY"
