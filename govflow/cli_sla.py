"""`govflow sla`: why a request's SLA clocks say what they say.

`govflow sla explain MODREQ-12` prints, for every clock of the request, the working
intervals counted towards its due time, the holidays and closed days skipped, the pauses
while the request waited for its requester, and the due time on the team's wall clock.
It only reads the ledger GOVFLOW_DATABASE_URL names and the rules GOVFLOW_RULES names.
Registered on the main app as `app.add_typer(sla_app, name="sla")`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from config.loader import load_rules
from config.settings import load_settings, redact_url
from domain.errors import ConfigError
from domain.rules import Rules
from govflow.clock_text import explain_request
from govflow.sandbox_ledger import ledger_to_read
from integrations.db.engine import make_engine, make_sessionmaker

sla_app = typer.Typer(
    name="sla",
    no_args_is_help=True,
    add_completion=False,
    help="Explain SLA clocks: what was counted, what was skipped, when it is due.",
)

NOT_MIGRATED = (
    "the ledger at {url} has no SLA clocks table yet.\n"
    "Run `govflow serve` once: it brings the ledger to the current schema. "
    "This command only reads and never changes the database."
)


@sla_app.callback()
def sla() -> None:
    """Explain SLA clocks: what was counted, what was skipped, when it is due."""
    # A callback keeps `govflow sla explain KEY` a sub-command while it is the only one.


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _instant(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date and time like 2026-12-03T17:00+08:00"
        raise typer.BadParameter(message, param_hint="--at") from None
    # A time without an offset is read as UTC, the ledger's time.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@contextmanager
def _ledger() -> Iterator[tuple[Session, Rules]]:
    """A read-only session on the configured ledger and the rules, or a message and exit 1."""
    try:
        settings = load_settings()
        rules = load_rules(settings.rules)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(), err=True)
        raise _fail("fix the configuration above (or run `govflow check-config`)") from None
    url, why = ledger_to_read(settings)
    shown = redact_url(url)
    if why:
        typer.echo(why, err=True)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _fail(f"GOVFLOW_DATABASE_URL is not a database URL: {shown}") from None
    # Connecting to a missing SQLite file would create an empty database: say so instead.
    if parsed.get_backend_name() == "sqlite" and not (
        parsed.database and parsed.database != ":memory:" and Path(parsed.database).is_file()
    ):
        raise _fail(NOT_MIGRATED.format(url=shown))
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("sla_clocks"):
            raise _fail(NOT_MIGRATED.format(url=shown))
        with make_sessionmaker(engine)() as session:
            yield session, rules
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise _fail(f"cannot read the ledger at {shown}: {reason}") from None
    finally:
        engine.dispose()


@sla_app.command("explain")
def explain_command(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The Jira key, e.g. MODREQ-12.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="DATETIME",
            help="Explain as of this instant (ISO 8601; UTC without an offset). Default: now.",
        ),
    ] = None,
) -> None:
    """Every SLA clock of a request: intervals counted, days skipped, pauses, due time."""
    now = _instant(at)
    with _ledger() as (session, rules):
        blocks = explain_request(session, key.strip().upper(), rules, now)
    if blocks is None:
        raise _fail(f"no request {key} in the ledger")
    if not blocks:
        typer.echo(f"{key}: no SLA clocks yet (they start when the request is routed)")
        return
    typer.echo("\n\n".join(blocks))
