"""`govflow sop`: read the SOP registry in the ledger: list, show, history, diff, export.

The ledger is the one GOVFLOW_DATABASE_URL names (see `config.settings`). These commands only
read: they neither migrate nor create a database, and say what to run when the registry's
tables are not there yet. Registered on the main app as `app.add_typer(sop_app, name="sop")`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from config.loader import load_rules
from config.settings import load_settings, redact_url
from domain.errors import ConfigError, UnknownSop
from domain.rules import Rules
from domain.sop import SopVersion
from domain.sop_merge import render_diff
from domain.training import render_training_markdown
from govflow.sandbox_ledger import ledger_to_read
from govflow.sop_import import render_sop_markdown
from govflow.training import attestation_report
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.sops import (
    SopRecord,
    current_version,
    get_sop,
    get_version,
    latest_version,
    list_sops,
    list_versions,
)
from integrations.db.training import find_case

sop_app = typer.Typer(
    name="sop",
    no_args_is_help=True,
    add_completion=False,
    help="Read the SOP registry: list SOPs, show or export a version, diff two versions.",
)

NOT_MIGRATED = (
    "the ledger at {url} has no SOP registry yet (its tables are missing).\n"
    "Run `govflow serve` once: it brings the ledger to the current schema. "
    "These commands only read and never change the database."
)
OnOption = Annotated[
    str | None,
    typer.Option("--on", metavar="YYYY-MM-DD", help="The date to look at; default today (UTC)."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date like 2026-07-01"
        raise typer.BadParameter(message, param_hint="--on") from None


@contextmanager
def _registry() -> Iterator[Session]:
    """A read-only session on the configured ledger, or a clear message and exit 1."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(), err=True)
        raise _fail("fix the settings above (or run `govflow check-config`)") from None
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
        if not inspect(engine).has_table("sop_versions"):
            raise _fail(NOT_MIGRATED.format(url=shown))
        with make_sessionmaker(engine)() as session:
            yield session
    except UnknownSop as exc:
        raise _fail(f"{exc} (`govflow sop list` shows what there is)") from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise _fail(f"cannot read the ledger at {shown}: {reason}") from None
    finally:
        engine.dispose()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, the last one unpadded."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


@sop_app.command("list")
def list_command(on: OnOption = None) -> None:
    """Every SOP with the version in effect on a date (default today) and any scheduled one."""
    day = _day(on)
    with _registry() as session:
        rows = []
        for record in list_sops(session):
            meta = record.meta
            current = current_version(session, meta.id, day)
            latest = latest_version(session, meta.id)
            in_effect = f"v{current.version} since {current.effective_date}" if current else "none"
            scheduled = (
                f"v{latest.version} from {latest.effective_date}"
                if current is None or latest.version != current.version
                else ""
            )
            markets = " ".join(meta.markets)
            row = [meta.id, in_effect, scheduled, meta.owner_team, meta.domain, markets, meta.title]
            rows.append(row)
    if not rows:
        typer.echo("The registry holds no SOPs yet (they are imported from `sops.directory`).")
        return
    headers = ["ID", f"IN EFFECT ON {day}", "SCHEDULED", "OWNER", "DOMAIN", "MARKETS", "TITLE"]
    typer.echo(_table(headers, rows))


def _pick(session: Session, sop_id: str, version: int | None, day: date) -> tuple[SopVersion, str]:
    """The version asked for, else the one in effect on `day`, else the latest; and a note."""
    if version is not None:
        chosen = get_version(session, sop_id, version)
    else:
        chosen = current_version(session, sop_id, day) or latest_version(session, sop_id)
    latest = latest_version(session, sop_id)
    if chosen.effective_date > day:
        note = f"not in effect yet on {day}: takes effect {chosen.effective_date}"
    else:
        note = f"in effect from {chosen.effective_date}"
        following = latest if latest.version > chosen.version else None
        if following is not None and following.version == chosen.version + 1:
            note += f"; version {following.version} takes effect {following.effective_date}"
        elif following is not None:
            note += f"; superseded by later versions (latest {following.version})"
    return chosen, note


@sop_app.command("show")
def show_command(
    sop_id: Annotated[str, typer.Argument(metavar="SOP_ID", help="e.g. SOP-LST-001")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", min=1, help="Default: the one in effect.")
    ] = None,
    on: OnOption = None,
) -> None:
    """One SOP version's metadata and full text (default: the version in effect today)."""
    day = _day(on)
    with _registry() as session:
        record = get_sop(session, sop_id)
        chosen, note = _pick(session, sop_id, version, day)
        total = latest_version(session, sop_id).version
    typer.echo(_header(record, chosen, total, note))
    typer.echo("-" * 72)
    typer.echo(chosen.text, nl=False)


def _header(record: SopRecord, version: SopVersion, total: int, note: str) -> str:
    meta = record.meta
    published = f"{version.published_at:%Y-%m-%d %H:%M} UTC by {version.author}"
    if version.jira_key:
        published += f" for {version.jira_key}"
    rows = [
        ["SOP", f"{meta.id}  {meta.title}"],
        ["owner team", meta.owner_team],
        ["domain", meta.domain],
        ["markets", " ".join(meta.markets)],
        ["version", f"{version.version} of {total} ({note})"],
        ["published", published],
        ["based on", f"version {version.based_on_version}" if version.based_on_version else "-"],
        ["sha256", version.content_hash],
        ["changelog", version.changelog.strip().replace("\n", " / ") or "-"],
    ]
    return _table(["", ""], rows).split("\n", 1)[1]


@sop_app.command("history")
def history_command(
    sop_id: Annotated[str, typer.Argument(metavar="SOP_ID", help="e.g. SOP-LST-001")],
) -> None:
    """Every version of an SOP: when it takes effect, who published it, why."""
    with _registry() as session:
        versions = list_versions(session, sop_id)
    rows = [
        [
            str(v.version),
            str(v.effective_date),
            f"{v.published_at:%Y-%m-%d %H:%M}",
            v.author,
            v.jira_key or "-",
            (v.changelog.strip().splitlines() or ["-"])[0],
        ]
        for v in versions
    ]
    headers = ["VERSION", "EFFECTIVE", "PUBLISHED (UTC)", "AUTHOR", "JIRA", "CHANGELOG"]
    typer.echo(_table(headers, rows))


@sop_app.command("diff")
def diff_command(
    sop_id: Annotated[str, typer.Argument(metavar="SOP_ID", help="e.g. SOP-LST-001")],
    a: Annotated[int, typer.Argument(min=1, help="The older version.")],
    b: Annotated[int, typer.Argument(min=1, help="The newer version.")],
    max_lines: Annotated[
        int | None, typer.Option("--max-lines", min=5, help="Cut the diff to this many lines.")
    ] = None,
    context: Annotated[int, typer.Option("--context", "-U", min=0, help="Context lines.")] = 3,
) -> None:
    """Unified diff between two versions of an SOP."""
    with _registry() as session:
        old, new = get_version(session, sop_id, a), get_version(session, sop_id, b)
    text, _ = render_diff(
        old.text,
        new.text,
        max_lines=max_lines,
        a_label=f"{sop_id} version {a}",
        b_label=f"{sop_id} version {b}",
        context=context,
    )
    typer.echo(text if text else f"versions {a} and {b} of {sop_id} have the same text")


@sop_app.command("export")
def export_command(
    sop_id: Annotated[str, typer.Argument(metavar="SOP_ID", help="e.g. SOP-LST-001")],
    out: Annotated[
        Path, typer.Option("--out", "-o", file_okay=False, help="Directory to write to.")
    ] = Path("."),
    version: Annotated[
        int | None, typer.Option("--version", "-v", min=1, help="Default: the one in effect.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write an SOP version as markdown with front matter to DIR/<SOP_ID>.md.

    A version published through govflow also has a training case: it goes beside, as
    DIR/<SOP_ID>.training.md (the SOP importer skips such files).
    """
    now = datetime.now(UTC)
    with _registry() as session:
        record = get_sop(session, sop_id)
        chosen, _ = _pick(session, sop_id, version, now.date())
        has_cases = inspect(session.connection()).has_table("training_cases")
        stored = find_case(session, record.meta.id, chosen.version) if has_cases else None
    target = out / f"{record.meta.id}.md"
    training = out / f"{record.meta.id}.training.md"
    for path in (target, training) if stored else (target,):
        if path.exists() and not force:
            raise _fail(f"{path} exists; pass --force to overwrite it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(render_sop_markdown(record.meta, chosen, exported_at=now), "utf-8")
        if stored is not None:
            training.write_text(render_training_markdown(stored.case), "utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {target} ({sop_id} version {chosen.version})")
    if stored is not None:
        typer.echo(f"wrote {training} (its training case)")


@sop_app.command("attestations")
def attestations_command(
    sop_id: Annotated[str, typer.Argument(metavar="SOP_ID", help="e.g. SOP-LST-001")],
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", min=1, help="Default: the latest with a training case."),
    ] = None,
    csv_out: Annotated[
        bool, typer.Option("--csv", help="CSV on stdout instead of a table.")
    ] = False,
) -> None:
    """Who must attest to an SOP version's training case, who has, and their check score."""
    rules = _rules()
    with _registry() as session:
        if not inspect(session.connection()).has_table("attestations"):
            raise _fail(NOT_MIGRATED.format(url="the configured ledger"))
        found = attestation_report(session, rules, sop_id, version)
    if found is None:
        which = f"version {version} of {sop_id}" if version else sop_id
        raise _fail(f"no training case for {which} (one is made when a version is published)")
    case, lines = found
    if csv_out:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["sop_id", "version", "team", "person", "attested_at", "correct", "questions"]
        )
        for line in lines:
            writer.writerow(
                [
                    case.sop_id,
                    case.version,
                    line.team,
                    line.person,
                    line.attested_at.isoformat(timespec="seconds") if line.attested_at else "",
                    "" if line.correct is None else line.correct,
                    line.questions,
                ]
            )
        typer.echo(buffer.getvalue(), nl=False)
        return
    done = sum(1 for line in lines if line.attested_at is not None)
    typer.echo(
        f"{case.sop_id} v{case.version}, effective {case.effective_date.isoformat()}: "
        f"{done} of {len(lines)} attested"
    )
    rows = [
        [
            line.team,
            line.person,
            line.attested_at.strftime("%Y-%m-%d %H:%M UTC") if line.attested_at else "not yet",
            "-" if line.correct is None else f"{line.correct}/{line.questions}",
        ]
        for line in lines
    ]
    typer.echo(_table(["team", "person", "attested", "check"], rows))


def _rules() -> Rules:
    """The configured rules, or their problems and exit 1."""
    try:
        return load_rules(load_settings().rules)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(), err=True)
        raise _fail("fix the rules above (or run `govflow check-config`)") from None
