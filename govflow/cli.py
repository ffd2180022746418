"""The `govflow` command: the front door for operators and admins."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """Moderation-strategy request pipeline: Jira intake, expert review, Slack sign-off."""
    # A callback keeps the `govflow <command>` form even while only one command exists.


@app.command("check-config")
def check_config_command() -> None:
    """Validate settings (GOVFLOW_* variables, .env) and the rules YAML; exit 1 on any problem."""
    from config.check import load_config
    from domain.errors import ConfigError

    try:
        settings, rules = load_config()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render())
        count = len(exc.problems)
        plural = "s" if count != 1 else ""
        typer.echo(f"{count} problem{plural}: govflow will not start until they are fixed")
        raise typer.Exit(1) from None
    jira = "local stand-in" if settings.uses_sandbox_jira else str(settings.jira_url)
    slack = "local stand-in" if settings.uses_sandbox_slack else str(settings.slack_api_url)
    typer.echo(
        f"OK: {len(rules.request_types)} request types, {len(rules.teams)} teams, "
        f"{len(rules.routing)} routes in {settings.rules} "
        f"({settings.environment}; Jira: {jira}; Slack: {slack})"
    )
