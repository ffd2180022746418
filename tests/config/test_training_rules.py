"""The training and attestation rules (`sops.training`, issue 15): loaded and located."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.errors import ConfigProblem
from tests.config.conftest import MINIMAL, line_of

Problems = Callable[[str], list[ConfigProblem]]
TRAINING = """\
sops:
  announce_channels: [C0TR00001]
  training:
    attest_teams: [qa]
    remind_before: 2d
"""


def test_training_rules_load(write_rules: Callable[[str], Path]) -> None:
    """Teams, channels and lead time come through; channels default to none of their own."""
    rules = load_rules(write_rules(MINIMAL + TRAINING))
    assert rules.sops.training is not None
    assert rules.sops.training.attest_teams == ["qa"]
    assert rules.sops.training.remind_before == "2d"
    assert rules.sops.training.channels == []


def test_shipped_rules_train_bpo_and_qa() -> None:
    """The packaged rules ask BPO and QA to attest."""
    training = load_rules(DEFAULT_RULES).sops.training
    assert training is not None and training.attest_teams == ["bpo_ops", "qa"]


def test_unknown_team_is_located(problems_in: Problems) -> None:
    """A team that does not exist is named with its line and the known teams."""
    text = MINIMAL + TRAINING.replace("[qa]", "[qa, bpo]")
    [problem] = problems_in(text)
    assert problem.where == "sops.training.attest_teams[1]"
    assert problem.line == line_of(text, "attest_teams")
    assert problem.message == "no team `bpo` is defined"
    assert "qa" in problem.hint


def test_bad_lead_time_and_channel_are_located(problems_in: Problems) -> None:
    """A lead time that is no duration and a channel name instead of an id."""
    text = MINIMAL + TRAINING.replace("remind_before: 2d", "remind_before: soon").replace(
        "attest_teams: [qa]", "attest_teams: [qa]\n    channels: ['#training']"
    )
    problems = {p.where: p for p in problems_in(text)}
    assert set(problems) == {"sops.training.remind_before", "sops.training.channels[0]"}
    assert problems["sops.training.remind_before"].line == line_of(text, "remind_before")
    assert problems["sops.training.channels[0]"].line == line_of(text, "#training")


def test_no_channel_at_all(problems_in: Problems) -> None:
    """Training needs somewhere to post."""
    text = MINIMAL + TRAINING.replace("  announce_channels: [C0TR00001]\n", "")
    [problem] = problems_in(text)
    assert problem.where == "sops.training.channels"
    assert problem.message == "no channel to post the training case in"


def test_empty_team_list_is_refused(problems_in: Problems) -> None:
    """Training with nobody to attest is a mistake, not a silent no-op."""
    text = MINIMAL + TRAINING.replace("[qa]", "[]")
    [problem] = problems_in(text)
    assert problem.where == "sops.training.attest_teams"
