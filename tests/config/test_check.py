"""check_config and `govflow check-config`: settings and rules checked together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from config.check import check_config, load_config
from govflow.cli import app
from tests.config.conftest import MINIMAL, edit, line_of

LEAK = "xoxb-must-not-be-printed"


def broken_rules(write_rules: Callable[[str], Path]) -> tuple[Path, str]:
    """A rules file with an unknown sign-off team; its path and text."""
    text = edit(MINIMAL, "- {team: qa, quorum: any}", "- {team: qaa, quorum: any}")
    return write_rules(text), text


class TestCheckConfig:
    def test_good_configuration_has_no_problems(self) -> None:
        """The embedded default checks clean."""
        assert check_config({}) == []

    def test_load_config_returns_both(self, write_rules: Callable[[str], Path]) -> None:
        """load_config gives the settings and the rules they point at."""
        settings, rules = load_config({"GOVFLOW_RULES": str(write_rules(MINIMAL))})
        assert settings.rules.name == "rules.yaml"
        assert list(rules.teams) == ["qa", "listing_experts"]

    def test_settings_and_rules_problems_together(self, write_rules: Callable[[str], Path]) -> None:
        """A bad variable does not hide the problems of the rules it names."""
        path, text = broken_rules(write_rules)
        problems = check_config({"GOVFLOW_RULES": str(path), "GOVFLOW_SLACK_APP_TOKEN": LEAK})
        assert [(p.source, p.line, p.where) for p in problems] == [
            ("environment", None, "GOVFLOW_SLACK_APP_TOKEN"),
            (str(path), line_of(text, "team: qaa"), "routing[1].signoff[0].team"),
        ]

    def test_missing_rules_file(self, tmp_path: Path) -> None:
        """A GOVFLOW_RULES that points nowhere is one problem about that file."""
        [problem] = check_config({"GOVFLOW_RULES": str(tmp_path / "gone.yaml")})
        assert problem.source == str(tmp_path / "gone.yaml")


class TestCheckConfigCommand:
    def test_ok_summary(self, clean_env: None) -> None:
        """A good configuration prints one OK line with counts and exits 0."""
        result = CliRunner().invoke(app, ["check-config"])
        assert result.exit_code == 0, result.output
        last = result.output.splitlines()[-1]
        assert last.startswith("OK: 6 request types, 9 teams, 15 routes in ")
        assert "Jira: local stand-in; Slack: local stand-in" in last
        # The shipped QA routes ask n_of: 2 of QA's two approvers: warned, not refused.
        others = result.output.splitlines()[:-1]
        assert len([line for line in others if line.startswith("warning: ")]) == 5

    def test_quorum_a_filing_member_makes_unreachable_is_warned(
        self, clean_env: None, write_rules: Callable[[str], Path]
    ) -> None:
        """n_of equal to the roster: located warning with the fix; exit 0; n_of below is fine."""
        text = MINIMAL  # routing[0] asks QA (two approvers) for n_of: 2
        path = write_rules(text)

        result = CliRunner().invoke(app, ["check-config"], env={"GOVFLOW_RULES": str(path)})

        assert result.exit_code == 0, result.output
        warning, hint, ok = result.output.splitlines()
        assert warning == (
            f"warning: {path}:{line_of(text, 'n_of: 2')}: routing[0].signoff[0].quorum: "
            "`n_of: 2` needs every one of qa's 2 approvers, so a request one of them files can "
            "never pass qa sign-off on route "
            f"{load_config({'GOVFLOW_RULES': str(path)})[1].routing[0].name}: "
            "the requester never decides on their own request"
        )
        assert hint == "    hint: add an approver to teams.qa.roster, or ask for n_of: 1"
        assert ok.startswith("OK: ")
        fine = write_rules(edit(text, "n_of: 2", "n_of: 1"))
        quiet = CliRunner().invoke(app, ["check-config"], env={"GOVFLOW_RULES": str(fine)})
        assert len(quiet.output.splitlines()) == 1

    def test_problems_rendered_and_exit_1(
        self, clean_env: None, write_rules: Callable[[str], Path]
    ) -> None:
        """Every problem is printed as file:line: where: message with its hint; exit 1."""
        path, text = broken_rules(write_rules)
        result = CliRunner().invoke(
            app,
            ["check-config"],
            env={"GOVFLOW_RULES": str(path), "GOVFLOW_SLACK_APP_TOKEN": LEAK},
        )
        assert result.exit_code == 1
        lines = result.output.splitlines()
        assert lines[0].startswith("environment: GOVFLOW_SLACK_APP_TOKEN: ")
        assert f"{path}:{line_of(text, 'team: qaa')}: routing[1].signoff[0].team: " in lines[2]
        assert "hint: did you mean `qa`?" in lines[3]
        assert lines[-1] == "2 problems: govflow will not start until they are fixed"
        assert LEAK not in result.output
