"""load_settings: GOVFLOW_* variables, problems that name the variable, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import DEFAULT_RULES, load_settings
from domain.errors import ConfigError, ConfigProblem

SECRET = "s3cr3t-value-that-must-not-leak"
PRODUCTION = {
    "GOVFLOW_ENVIRONMENT": "production",
    "GOVFLOW_JIRA_URL": "https://example.atlassian.net",
    "GOVFLOW_JIRA_USER": "govflow-bot@example.com",
    "GOVFLOW_JIRA_TOKEN": "ATATT3xFfGF0" + SECRET,
    "GOVFLOW_JIRA_WEBHOOK_SECRET": "whsec-" + SECRET,
    "GOVFLOW_SLACK_BOT_TOKEN": "xoxb-1234-" + SECRET,
    "GOVFLOW_SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
}


def problems_for(env: dict[str, str]) -> list[ConfigProblem]:
    """The problems `env` raises (fails if it loads cleanly)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return caught.value.problems


def by_variable(problems: list[ConfigProblem]) -> dict[str, ConfigProblem]:
    """Problems keyed by the variable they name."""
    return {p.where: p for p in problems}


def assert_no_leak(problems: list[ConfigProblem], error_text: str = "") -> None:
    """No message, hint or rendered error repeats the secret."""
    for p in problems:
        assert SECRET not in p.render()
    assert SECRET not in error_text


class TestDefaults:
    def test_nothing_configured_means_stand_ins(self) -> None:
        """With no variables, the embedded default runs on the local stand-ins and SQLite."""
        settings = load_settings({})
        assert settings.uses_sandbox_jira and settings.uses_sandbox_slack
        assert settings.database_url == "sqlite:///.govflow/govflow.db"
        assert settings.rules == DEFAULT_RULES and DEFAULT_RULES.is_file()
        assert settings.environment == "development"
        assert (settings.receiver_port, settings.intake_interval_seconds) == (3000, 30)
        assert settings.watchdog_interval_seconds == 60
        assert str(settings.slack_api_url) == "https://slack.com/api/"

    def test_database_follows_data_dir(self) -> None:
        """The default SQLite file lives in the data directory."""
        settings = load_settings({"GOVFLOW_DATA_DIR": "/var/lib/govflow"})
        assert settings.database_url == "sqlite:////var/lib/govflow/govflow.db"

    def test_production_with_everything_set(self) -> None:
        """A complete production environment loads and uses the real services."""
        settings = load_settings(PRODUCTION)
        assert not settings.uses_sandbox_jira and not settings.uses_sandbox_slack


class TestSources:
    def test_given_mapping_ignores_the_process_environment(
        self, clean_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """load_settings(env) reads only env, so tests are hermetic."""
        monkeypatch.setenv("GOVFLOW_RECEIVER_PORT", "9999")
        assert load_settings({}).receiver_port == 3000

    def test_process_environment_by_default(
        self, clean_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a mapping, the process environment counts."""
        monkeypatch.setenv("GOVFLOW_RECEIVER_PORT", "9999")
        assert load_settings().receiver_port == 9999

    def test_dotenv_file(self, clean_env: None, tmp_path: Path) -> None:
        """A `.env` in the working directory is read; empty values there mean unset."""
        (tmp_path / ".env").write_text(
            "GOVFLOW_INTAKE_INTERVAL_SECONDS=5\nGOVFLOW_SLACK_APP_TOKEN=\n"
        )
        settings = load_settings()
        assert settings.intake_interval_seconds == 5
        assert settings.slack_app_token is None

    def test_names_ignore_case_and_empty_means_unset(self) -> None:
        """Like the process environment: any case, and `VAR=` is not set."""
        settings = load_settings(
            {"govflow_environment": "PRODUCTION", **PRODUCTION, "GOVFLOW_SLACK_APP_TOKEN": ""}
        )
        assert settings.environment == "production"
        assert settings.slack_app_token is None

    def test_projects_are_comma_separated(self) -> None:
        """GOVFLOW_JIRA_PROJECTS takes `A, B`."""
        assert load_settings({"GOVFLOW_JIRA_PROJECTS": "MODREQ, MODOPS"}).jira_projects == [
            "MODREQ",
            "MODOPS",
        ]


class TestProblems:
    def test_app_token_must_be_xapp(self) -> None:
        """A bot token pasted as the app token names the variable, not the value."""
        problems = problems_for({**PRODUCTION, "GOVFLOW_SLACK_APP_TOKEN": "xoxb-" + SECRET})
        problem = by_variable(problems)["GOVFLOW_SLACK_APP_TOKEN"]
        assert (problem.source, problem.line) == ("environment", None)
        assert "xapp-" in problem.message
        assert "App-Level Tokens" in problem.hint
        assert_no_leak(problems)

    def test_bot_token_must_be_xoxb(self) -> None:
        """A user token (xoxp-) is not a bot token."""
        problems = problems_for({"GOVFLOW_SLACK_BOT_TOKEN": "xoxp-" + SECRET})
        assert "xoxb-" in by_variable(problems)["GOVFLOW_SLACK_BOT_TOKEN"].message
        assert_no_leak(problems)

    def test_error_text_never_holds_the_secret(self) -> None:
        """Neither ConfigError's text nor its cause chain repeats a rejected secret."""
        with pytest.raises(ConfigError) as caught:
            load_settings({"GOVFLOW_SLACK_APP_TOKEN": SECRET})
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert_no_leak(caught.value.problems, str(caught.value))

    def test_jira_url_needs_user_and_token(self) -> None:
        """A Jira URL alone names both missing variables."""
        problems = problems_for({"GOVFLOW_JIRA_URL": "https://example.atlassian.net"})
        assert set(by_variable(problems)) == {"GOVFLOW_JIRA_USER", "GOVFLOW_JIRA_TOKEN"}

    def test_jira_token_needs_url(self) -> None:
        """Credentials without a site are a mistake, not a request for the stand-in."""
        problems = problems_for(
            {"GOVFLOW_JIRA_USER": "bot@example.com", "GOVFLOW_JIRA_TOKEN": SECRET}
        )
        assert set(by_variable(problems)) == {"GOVFLOW_JIRA_URL"}
        assert_no_leak(problems)

    def test_bot_token_needs_signing_secret_or_socket_mode(self) -> None:
        """Over HTTP, Slack's requests can only be verified with the signing secret."""
        problems = problems_for({"GOVFLOW_SLACK_BOT_TOKEN": "xoxb-1-" + SECRET})
        assert set(by_variable(problems)) == {"GOVFLOW_SLACK_SIGNING_SECRET"}
        socket_mode = {"GOVFLOW_SLACK_BOT_TOKEN": "xoxb-1", "GOVFLOW_SLACK_APP_TOKEN": "xapp-1"}
        assert load_settings(socket_mode).slack_signing_secret is None

    def test_production_requires_every_credential(self) -> None:
        """Production names each missing credential rather than falling back to stand-ins."""
        problems = problems_for({"GOVFLOW_ENVIRONMENT": "production"})
        assert set(by_variable(problems)) == {
            "GOVFLOW_JIRA_URL",
            "GOVFLOW_JIRA_USER",
            "GOVFLOW_JIRA_TOKEN",
            "GOVFLOW_JIRA_WEBHOOK_SECRET",
            "GOVFLOW_SLACK_BOT_TOKEN",
            "GOVFLOW_SLACK_SIGNING_SECRET",
        }
        assert all(p.hint.startswith("set GOVFLOW_") for p in problems)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("GOVFLOW_SLACK_BOT_TOKEN", "xoxb-your-token"),
            ("GOVFLOW_SLACK_SIGNING_SECRET", "changeme"),
            ("GOVFLOW_JIRA_TOKEN", "<jira api token>"),
            ("GOVFLOW_JIRA_WEBHOOK_SECRET", "TODO"),
        ],
    )
    def test_production_rejects_placeholders(self, variable: str, value: str) -> None:
        """Template values are refused in production, without repeating them."""
        problems = problems_for({**PRODUCTION, variable: value})
        problem = only_problem(problems)
        assert (problem.where, problem.message) == (
            variable,
            "holds a placeholder, not a real secret",
        )
        assert value not in problem.render()

    def test_placeholders_pass_in_development(self) -> None:
        """Development tolerates placeholders: the stand-ins accept anything."""
        load_settings(
            {**PRODUCTION, "GOVFLOW_ENVIRONMENT": "development", "GOVFLOW_JIRA_TOKEN": "changeme"}
        )

    def test_several_problems_at_once(self) -> None:
        """Every bad variable is reported, each with a hint."""
        problems = problems_for(
            {
                "GOVFLOW_RECEIVER_PORT": "70000",
                "GOVFLOW_INTAKE_INTERVAL_SECONDS": "often",
                "GOVFLOW_ENVIRONMENT": "staging",
                "GOVFLOW_JIRA_URL": "not a url",
                "GOVFLOW_JIRA_PROJECTS": "modreq",
                "GOVFLOW_DATABASE_URL": "db-password-" + SECRET,
            }
        )
        assert set(by_variable(problems)) == {
            "GOVFLOW_RECEIVER_PORT",
            "GOVFLOW_INTAKE_INTERVAL_SECONDS",
            "GOVFLOW_ENVIRONMENT",
            "GOVFLOW_JIRA_URL",
            "GOVFLOW_JIRA_PROJECTS",
            "GOVFLOW_DATABASE_URL",
        }
        assert all(p.hint for p in problems)
        assert_no_leak(problems)


class TestDisplay:
    def test_repr_and_str_hide_secrets(self) -> None:
        """Tokens show as stars and the database password as ***."""
        settings = load_settings(
            {
                **PRODUCTION,
                "GOVFLOW_DATABASE_URL": f"postgresql+psycopg://govflow:{SECRET}@db/govflow",
            }
        )
        for text in (repr(settings), str(settings)):
            assert SECRET not in text
            assert "postgresql+psycopg://govflow:***@db/govflow" in text
        assert repr(settings).startswith("Settings(")
        assert settings.database_url.endswith(f"{SECRET}@db/govflow")


def only_problem(problems: list[ConfigProblem]) -> ConfigProblem:
    """The single problem of a list."""
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]
