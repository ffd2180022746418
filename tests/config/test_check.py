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
        assert result.output.startswith("OK: 5 request types, 9 teams, 14 routes in ")
        assert "Jira: local stand-in; Slack: local stand-in" in result.output
        assert len(result.output.splitlines()) == 1

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
