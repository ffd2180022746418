"""`govflow report`: cycle time per stage, team, request type or market, from the ledger.

    govflow report                                  # the last 7 days by stage, as a table
    govflow report --since 2026-11-01 --by team --format csv
    govflow report --format json --chart cycle.png

It only reads the ledger GOVFLOW_DATABASE_URL names and the rules GOVFLOW_RULES names.
What the numbers mean is in `govflow.report`.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from govflow.cli_sla import _instant, _ledger
from govflow.report import GroupBy, as_csv, as_json, as_table, read_finished, report_rows


class Format(StrEnum):
    """How the report is printed."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def report_command(
    since: Annotated[
        str | None,
        typer.Option(
            help="Start of the window (ISO 8601, UTC without an offset). Default: --until - 7 days."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End of the window, exclusive (ISO 8601). Default: now."),
    ] = None,
    by: Annotated[GroupBy, typer.Option(help="One row per stage, team, type or market.")] = (
        GroupBy.STAGE
    ),
    output: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
    chart: Annotated[
        Path | None, typer.Option(metavar="FILE.png", help="Also draw the p50 split as a PNG.")
    ] = None,
) -> None:
    """Cycle time of finished stages: p50/p90 working, off-hours and paused time, SLA met."""
    end = _instant(until)
    start = _instant(since) if since is not None else end - timedelta(days=7)
    with _ledger() as (session, rules):
        rows = report_rows(read_finished(session, rules, start, end), by, rules)
    match output:
        case Format.TABLE:
            typer.echo(as_table(rows), nl=False)
        case Format.CSV:
            typer.echo(as_csv(rows), nl=False)
        case Format.JSON:
            typer.echo(as_json(rows, since=start, until=end, by=by), nl=False)
    if chart is not None:
        from govflow.report_chart import write_chart  # matplotlib only when asked

        title = f"Cycle time by {by.value}, {start:%d %b} to {end:%d %b %Y}"
        write_chart(rows, chart, title)
        typer.echo(f"chart written to {chart}", err=True)
