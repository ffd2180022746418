"""The `govflow` command: the front door for operators and admins."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """Moderation-strategy request pipeline: Jira intake, expert review, Slack sign-off."""
    # A callback keeps the `govflow <command>` form even while only one command exists.


@app.command("check-config")
def check_config_command() -> None:
    """Validate settings (GOVFLOW_* variables, .env) and the rules YAML; exit 1 on any problem."""
    from config.check import config_warnings, load_config
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
    for warning in config_warnings(settings):
        typer.echo(f"warning: {warning.render()}")
    jira = "local stand-in" if settings.uses_sandbox_jira else str(settings.jira_url)
    slack = "local stand-in" if settings.uses_sandbox_slack else str(settings.slack_api_url)
    typer.echo(
        f"OK: {len(rules.request_types)} request types, {len(rules.teams)} teams, "
        f"{len(rules.routing)} routes in {settings.rules} "
        f"({settings.environment}; Jira: {jira}; Slack: {slack})"
    )


@app.command("serve")
def serve_command(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Start only these pieces (repeatable): prefect, sandbox, runner, receiver.",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all (one machine: Prefect server if PREFECT_API_URL is unset, stand-ins if "
            "no credentials, runner, receiver), or receiver / runner alone, to scale out "
            "against a shared Prefect server and ledger (docs/deploy.md).",
        ),
    ] = "all",
) -> None:
    """Start the pipeline: Prefect server (if PREFECT_API_URL is unset), stand-ins, runner."""
    import contextlib
    import signal

    from config.check import load_config
    from domain.errors import ConfigError
    from govflow.supervisor import PIECES, ROLES, StopRequested, Supervisor

    try:
        settings, rules = load_config()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(), err=True)
        typer.echo("govflow serve: refusing to start on invalid configuration", err=True)
        raise typer.Exit(1) from None
    unknown = sorted(set(only or ()) - set(PIECES))
    if unknown:
        typer.echo(f"unknown piece(s) {', '.join(unknown)}; choose from {', '.join(PIECES)}")
        raise typer.Exit(2)
    if role not in ROLES:
        typer.echo(f"unknown role {role}; choose from {', '.join(ROLES)}")
        raise typer.Exit(2)
    if only and role != "all":
        typer.echo("--only and --role say the same thing twice: give one")
        raise typer.Exit(2)
    pieces = frozenset(only) if only else ROLES[role]
    supervisor = Supervisor(settings, rules, only=pieces, say=typer.echo)
    missing = supervisor.role_problems()
    for reason in missing:
        typer.echo(f"govflow serve --role {role}: {reason}", err=True)
    if missing:
        raise typer.Exit(2)
    # The handler only counts (see Supervisor.request_stop): a second signal during the stop
    # must hurry it, not abort it half way and leave children running.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)
    code = 0
    try:
        supervisor.start()
        typer.echo("govflow is running; Ctrl-C stops every process it started")
        code = supervisor.watch()
    except StopRequested:
        pass  # a signal arrived while starting: stop what was started
    finally:
        # A closed stdout (its terminal or pipe gone) must not cut the stop short.
        with contextlib.suppress(OSError):
            typer.echo("stopping (Ctrl-C again: stop at once)")
        supervisor.stop()
    with contextlib.suppress(OSError):
        typer.echo("stopped")
    raise typer.Exit(code)


def _register_subcommands() -> None:
    from govflow.cli_report import report_command
    from govflow.cli_sla import sla_app
    from govflow.cli_sop import sop_app

    app.add_typer(sop_app, name="sop", help="Read the SOP registry: list, show, diff, export.")
    app.add_typer(sla_app, name="sla", help="Explain how a request's SLA due times were computed.")
    app.command("report")(report_command)


_register_subcommands()
