"""SOP markdown files in and out of the registry: import at start-up, export on request.

A file in the SOP directory (`sops.directory` of the rules, relative to the rules file) is
front matter, YAML between two `---` lines, then the SOP in markdown:

    ---
    id: SOP-LST-001
    title: Prohibited and restricted items - listing review
    owner_team: listing_experts          # a team key of the rules
    domain: product_listing              # a domain key of the rules
    markets: [MY, SG, ID, TH, PH, VN]    # market codes of the rules
    effective_date: 2026-07-01
    ---
    # SOP-LST-001 Prohibited and restricted items - listing review
    ...

Every `*.md` file but README.md is read. `import_sops` adds the SOPs the registry does not
have yet, as version 1. An SOP the registry has is never changed from disk: after import it
changes only through a request, so a file that differs from what was imported is reported
(and audited once per distinct content) and otherwise ignored. A file counts as unchanged
when it is byte-for-byte what was imported, up to line endings and trailing blanks, or when
its metadata is the registry's and its text is one of the SOP's versions (an export).
A bad file is reported with its file, line and a hint, never a traceback, and does not stop
the import of the others.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session
from yaml.nodes import MappingNode, SequenceNode

from config.rules_yaml import RulesYamlLoader
from domain.errors import ConfigError, ConfigProblem
from domain.rules import Rules
from domain.sop import SopMeta, SopVersion, content_hash, normalize_text
from integrations.db.audit import record_audit
from integrations.db.sops import (
    find_sop,
    latest_version,
    note_ignored_disk_hash,
    register_sop,
    version_hashes,
)

IMPORT_ACTOR = "govflow:sop-import"
FRONT_MATTER_HINT = (
    "start the file with a line `---`, then id, title, owner_team, domain, markets and "
    "effective_date as `key: value` lines, then another `---` line"
)
# A front matter of a dozen keys needs nothing like this; more is a mistake or an attack.
MAX_FRONT_MATTER_CHARS = 20_000
HINTS = {
    "id": "write an id like SOP-LST-001 (SOP-, 2-6 capitals, -, 3 or more digits)",
    "title": "write the SOP's title, 3 to 255 characters",
    "owner_team": "use a team key of the rules, e.g. listing_experts",
    "domain": "use a domain key of the rules: merchant_onboarding, product_listing or content",
    "markets": "list market codes, e.g. [MY, SG, ID, TH, PH, VN]",
    "effective_date": "write a date as YYYY-MM-DD",
}


class FrontMatter(SopMeta):
    """The front matter of an SOP file: the SOP's metadata and its first effective date."""

    effective_date: date


@dataclass(frozen=True)
class SopFile:
    """A parsed SOP file."""

    path: Path
    front: FrontMatter
    text: str
    file_hash: str = field(repr=False)


@dataclass(frozen=True)
class DiskChange:
    """An imported SOP whose file now differs; the registry kept its own versions."""

    sop_id: str
    path: str
    disk_hash: str
    latest_version: int
    newly_reported: bool


@dataclass(frozen=True)
class ImportReport:
    """What an import did with each file."""

    new: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    changed_on_disk: tuple[DiskChange, ...] = ()
    invalid: tuple[ConfigProblem, ...] = ()

    def lines(self) -> list[str]:
        """A summary line, then one line per ignored change and per problem, for a log."""
        head = (
            f"SOPs: {len(self.new)} new, {len(self.unchanged)} unchanged, "
            f"{len(self.changed_on_disk)} changed on disk (ignored), "
            f"{len(self.invalid)} problem{'s' if len(self.invalid) != 1 else ''}"
        )
        out = [head + (f" (new: {', '.join(self.new)})" if self.new else "")]
        out += [
            f"  warning: {c.sop_id}: {c.path} differs from the registry, which keeps version "
            f"{c.latest_version}; SOPs change only through a request (file one in Jira), so "
            "the file was ignored (restore it, or export the registry's text over it)"
            for c in self.changed_on_disk
        ]
        out += ["  " + p.render().replace("\n", "\n  ") for p in self.invalid]
        return out


def import_sops(
    session: Session, directory: Path, now: datetime, *, rules: Rules | None = None
) -> ImportReport:
    """Add SOPs from new files in `directory`; report unchanged, changed and invalid ones.

    With `rules`, owner teams, domains and markets must be ones the rules define.
    Idempotent; never commits.
    """
    if not directory.is_dir():
        problem = ConfigProblem(
            str(directory), None, "", "no SOP directory", "create it, or set `sops.directory`"
        )
        return ImportReport(invalid=(problem,))
    new: list[str] = []
    unchanged: list[str] = []
    changed: list[DiskChange] = []
    invalid: list[ConfigProblem] = []
    defined: dict[str, Path] = {}
    for path in sop_files(directory):
        try:
            sop = read_sop_file(path, rules=rules)
        except ConfigError as exc:
            invalid += exc.problems
            continue
        if sop.front.id in defined:
            invalid.append(
                ConfigProblem(
                    str(path),
                    _key_line(path, "id"),
                    "id",
                    f"{sop.front.id} is also defined in {defined[sop.front.id].name}",
                    "give every SOP file its own id, or remove the copy",
                )
            )
            continue
        defined[sop.front.id] = path
        outcome = _import_one(session, sop, now)
        if outcome == "new":
            new.append(sop.front.id)
        elif outcome == "unchanged":
            unchanged.append(sop.front.id)
        else:
            assert isinstance(outcome, DiskChange)
            changed.append(outcome)
    return ImportReport(tuple(new), tuple(unchanged), tuple(changed), tuple(invalid))


def _import_one(session: Session, sop: SopFile, now: datetime) -> str | DiskChange:
    front = sop.front
    meta = SopMeta.model_validate(front.model_dump(exclude={"effective_date"}))
    if find_sop(session, front.id) is None and register_sop(
        session,
        meta,
        sop.text,
        author=IMPORT_ACTOR,
        effective_date=front.effective_date,
        changelog=f"Imported from {sop.path.name}",
        now=now,
        source_path=sop.path.name,
        source_hash=sop.file_hash,
    ):
        record_audit(
            session,
            at=now,
            actor=IMPORT_ACTOR,
            action="sop_imported",
            reason=f"new SOP file {sop.path.name}",
            detail={"sop_id": front.id, "path": sop.path.name, "file_hash": sop.file_hash},
        )
        return "new"
    record = find_sop(session, front.id)
    assert record is not None  # found above, or added meanwhile by a concurrent import
    if sop.file_hash == record.source_hash or (
        record.meta == meta and content_hash(sop.text) in version_hashes(session, front.id)
    ):
        return "unchanged"
    latest = latest_version(session, front.id).version
    newly = note_ignored_disk_hash(session, front.id, sop.file_hash)
    if newly:
        record_audit(
            session,
            at=now,
            actor=IMPORT_ACTOR,
            action="sop_file_change_ignored",
            reason=(
                f"{sop.path.name} differs from the registry; SOPs change only through "
                f"requests, so version {latest} stays"
            ),
            detail={
                "sop_id": front.id,
                "path": sop.path.name,
                "disk_hash": sop.file_hash,
                "imported_hash": record.source_hash,
                "latest_version": latest,
            },
        )
    return DiskChange(front.id, str(sop.path), sop.file_hash, latest, newly)


def sop_files(directory: Path) -> list[Path]:
    """The SOP files of a directory, by name: every `*.md` but README.md and hidden ones."""
    return sorted(
        p
        for p in directory.glob("*.md")
        if p.is_file()
        and not p.name.startswith(".")
        and p.name.lower() != "readme.md"
        # Training cases exported beside an SOP (`govflow sop export`) are not SOPs.
        and not p.name.lower().endswith(".training.md")
    )


def read_sop_file(path: Path, *, rules: Rules | None = None) -> SopFile:
    """Read and check one SOP file; ConfigError naming the file and line on any problem."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigProblem(source, None, "", f"cannot read: {reason}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = ConfigProblem(source, line, "", "is not UTF-8 text", "save the file as UTF-8")
        raise ConfigError([problem]) from None
    front, body = parse_sop_markdown(text, source=source, rules=rules)
    return SopFile(path, front, body, content_hash(text))


def parse_sop_markdown(
    text: str, *, source: str, rules: Rules | None = None
) -> tuple[FrontMatter, str]:
    """Split an SOP file into checked front matter and normalized markdown, or ConfigError."""
    lines = normalize_text(text).split("\n")
    if lines[0] != "---":
        raise ConfigError(
            [ConfigProblem(source, 1, "", "does not start with front matter", FRONT_MATTER_HINT)]
        )
    close = next((i for i in range(1, len(lines)) if lines[i] in ("---", "...")), None)
    if close is None:
        raise ConfigError(
            [
                ConfigProblem(
                    source, 1, "", "the front matter opened here is never closed", FRONT_MATTER_HINT
                )
            ]
        )
    data, key_lines = _front_matter_yaml("\n".join(lines[1:close]), source)
    front = _validate(data, key_lines, source)
    problems = _cross_check(front, key_lines, source, rules) if rules is not None else []
    body = normalize_text("\n".join(lines[close + 1 :]))
    if not body:
        problems.append(
            ConfigProblem(
                source, close + 1, "", "has no SOP text after its front matter", "add the SOP"
            )
        )
    if problems:
        raise ConfigError(problems)
    return front, body


Locs = dict[tuple[str | int, ...], int]


def _front_matter_yaml(yaml_text: str, source: str) -> tuple[dict[str, Any], Locs]:
    """The front matter's values, and the file line of each key and list item."""
    if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
        raise ConfigError([ConfigProblem(source, 2, "", "the front matter is far too long")])
    try:
        node = yaml.compose(yaml_text, Loader=RulesYamlLoader)
        data = yaml.load(yaml_text, Loader=RulesYamlLoader)  # RulesYamlLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # Front matter starts on the file's line 2; YAML counts lines from 0.
        line = mark.line + 2 if mark is not None else 2
        message = f"{exc.problem or 'is not valid YAML'}".strip()
        raise ConfigError([ConfigProblem(source, line, "front matter", message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(source, 2, "front matter", str(exc))]) from None
    if not isinstance(node, MappingNode) or not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigProblem(
                    source, 2, "front matter", "is not `key: value` lines", FRONT_MATTER_HINT
                )
            ]
        )
    locs: Locs = {}
    problems = []
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if (key,) in locs:
            problems.append(
                ConfigProblem(
                    source,
                    key_node.start_mark.line + 2,
                    key,
                    f"is given twice (also on line {locs[(key,)]})",
                    "keep one",
                )
            )
        locs[(key,)] = key_node.start_mark.line + 2
        if isinstance(value_node, SequenceNode):
            for i, item in enumerate(value_node.value):
                locs[(key, i)] = item.start_mark.line + 2
    if problems:
        raise ConfigError(problems)
    return {str(k): v for k, v in data.items()}, locs


def _validate(data: dict[str, Any], locs: Locs, source: str) -> FrontMatter:
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(error["loc"])
            key = str(loc[0]) if loc else ""
            where = key + "".join(f"[{part}]" for part in loc[1:])
            line = locs.get(loc) or locs.get(loc[:1]) or 1
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is missing from the front matter"
            elif error["type"] == "extra_forbidden":
                _, hint = _unknown(key, FrontMatter.model_fields)
                problems.append(
                    ConfigProblem(source, line, where, "is not a front matter key", hint)
                )
                continue
            problems.append(ConfigProblem(source, line, where, message, HINTS.get(key, "")))
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from None


def _cross_check(front: FrontMatter, locs: Locs, source: str, rules: Rules) -> list[ConfigProblem]:
    """Owner team, domain and markets must be ones the rules define."""
    problems = []
    for key, value, known in (
        ("owner_team", front.owner_team, rules.teams),
        ("domain", front.domain, rules.domains),
    ):
        if value not in known:
            problems.append(ConfigProblem(source, locs.get((key,)), key, *_unknown(value, known)))
    for i, market in enumerate(front.markets):
        if market not in rules.markets:
            line = locs.get(("markets", i)) or locs.get(("markets",))
            problems.append(
                ConfigProblem(source, line, f"markets[{i}]", *_unknown(market, rules.markets))
            )
    return problems


def _unknown(value: str, known: Iterable[str]) -> tuple[str, str]:
    names = list(known)
    close = difflib.get_close_matches(value, names, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"`{value}` is not defined in the rules", f"{hint}known: {', '.join(names)}"


def _key_line(path: Path, key: str) -> int | None:
    """The line of a front matter key, for reports about a file already parsed once."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((i + 1 for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)


def render_sop_markdown(meta: SopMeta, version: SopVersion, *, exported_at: datetime) -> str:
    """An SOP version as a file `read_sop_file` accepts, with where it came from as comments."""
    front = {
        "id": meta.id,
        "title": meta.title,
        "owner_team": meta.owner_team,
        "domain": meta.domain,
        "markets": list(meta.markets),
        "effective_date": version.effective_date,
    }
    dumped = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=None)
    provenance = [
        f"# exported from the govflow SOP registry at {exported_at.isoformat(timespec='seconds')}",
        f"# version {version.version}, sha256 {version.content_hash}",
        f"# published {version.published_at.isoformat(timespec='seconds')} by {version.author}"
        + (f" for {version.jira_key}" if version.jira_key else ""),
    ]
    return "---\n" + dumped + "\n".join(provenance) + "\n---\n" + normalize_text(version.text)
