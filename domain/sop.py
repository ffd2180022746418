"""SOP documents, their immutable versions, and an expert's proposed change made into a draft.

An SOP (standard operating procedure) is a markdown document that content reviewers are
trained on. The registry keeps every published version; a version is never edited, a change
is a new version. This module is pure: parsing, hashing and the publication rules; the ledger
side is `integrations.db.sops`, merging and diffs are `domain.sop_merge`.

Text identity
    `normalize_text` is what the registry stores and hashes: line endings become `\\n`,
    trailing whitespace and a byte-order mark go, leading and trailing blank lines go, and
    non-empty text ends with one newline. `content_hash` is the sha256 of that. A sign-off
    binds to the hash of the draft it approved, so a draft changed after approval, by a word
    or by a rebase, no longer carries it (`signoff_still_valid`).

The proposed-change format (what an expert types in the Slack modal)
    1. Whole new text: the first non-blank line is `@replace`; everything after it is the
       complete new SOP in markdown, without front matter.

           @replace
           # SOP-LST-001 Prohibited items listing review
           ## 1. Purpose
           ...

    2. Section edits (anything else): blocks that each start with a numbered markdown
       heading, and `@delete N` lines. Sections are addressed by their number only.

           ### 4.2 Counterfeit indicators
           A listing is suspect when at least two of the indicators below hold: ...

           ## 9. Appeals
           Merchants may appeal a takedown within 14 calendar days ...

           @delete 5.3

       - A heading is `#` to `######`, a space, a number (`3`, `3.` or `3.2.1`), the title.
         Lines inside ``` or ~~~ fences are never headings or directives.
       - A section is its heading line and its own text: up to the next numbered heading of
         any level, or the next heading of the same or a higher level. So `### 3.2` does not
         include `#### 3.2.1`, which is a section of its own and stays unless edited.
       - A block whose number exists in the base version replaces that section, heading line
         included (so a retitle is a replacement). A block's body runs to the next numbered
         heading or `@delete`; it may contain unnumbered headings deeper than its own.
       - A block with a new number adds a section, placed right after the base section that
         precedes it in numeric order (with that one's subsections), or before the first
         numbered section when it precedes them all. A new 7.2.1 needs a 7.2, in the base or
         in the same change.
       - `@delete 5.3` removes section 5.3 and its subsections (5.3.1, 5.3.2, ...).

    Anything else is a `ProposedChangeInvalid` listing each problem with its line in the
    typed text: an empty change, text before the first heading, a heading without a number,
    a section given twice or both edited and deleted, an unknown `@` directive, deleting a
    section the base does not have, a number the base itself uses twice, a change that
    leaves the text as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from domain.errors import ChangeProblem, ProposedChangeInvalid, PublicationRefused, StaleBase

SOP_ID = re.compile(r"^SOP-[A-Z]{2,6}-\d{3,}$")
MARKET = re.compile(r"^[A-Z]{2}$")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$")
_NUMBER = re.compile(r"^(\d{1,4}(?:\.\d{1,4})*)\.?(?=[ \t]|$)")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_DIRECTIVE = re.compile(r"^@([A-Za-z_]*)[ \t]*(.*)$")
_CHANGE_HINT = (
    "start each edit with a numbered heading like `## 3.2 Title`, "
    "or send the whole text after `@replace`"
)


def _sop_id(value: str) -> str:
    if not SOP_ID.match(value):
        raise ValueError(f"{value!r} is not an SOP id like SOP-LST-001")
    return value


def _key(value: str) -> str:
    if not KEY.match(value):
        raise ValueError(f"{value!r} is not a key: lower_snake_case, starting with a letter")
    return value


def _market(value: str) -> str:
    if not MARKET.match(value):
        raise ValueError(f"{value!r} is not a two-letter market code in capitals, like MY")
    return value


def _markets(value: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted({m for m in value if value.count(m) > 1})
    if twice:
        raise ValueError(f"listed twice: {', '.join(twice)}")
    return value


SopId = Annotated[str, AfterValidator(_sop_id)]
Key = Annotated[str, AfterValidator(_key)]
# Checked per item so that a file's error points at the one bad market's line.
Market = Annotated[str, AfterValidator(_market)]
Markets = Annotated[tuple[Market, ...], Field(min_length=1), AfterValidator(_markets)]


def normalize_text(text: str) -> str:
    """The canonical form of an SOP text: `\\n` endings, no trailing whitespace or edge blanks."""
    lines = [line.rstrip() for line in _LINE_BREAK.split(text.removeprefix("\ufeff"))]
    while lines and not lines[-1]:
        lines.pop()
    start = next((i for i, line in enumerate(lines) if line), len(lines))
    return "\n".join(lines[start:]) + "\n" if lines[start:] else ""


def content_hash(text: str) -> str:
    """The sha256 (hex) of the normalized text: what a sign-off and a version are bound to."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def signoff_still_valid(approved_hash: str, draft_text: str) -> bool:
    """Whether `draft_text` is still exactly the text whose hash the approvers signed off."""
    # Bytes: compare_digest refuses non-ASCII str, and a garbled stored hash must read False.
    given = approved_hash.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(given, content_hash(draft_text).encode("ascii"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SopMeta(_Frozen):
    """What an SOP is about and who owns it (its text and dates are in its versions)."""

    id: SopId
    title: str = Field(min_length=3, max_length=255)
    owner_team: Key
    domain: Key
    markets: Markets


class SopVersion(_Frozen):
    """One published, immutable version of an SOP's text."""

    sop_id: str
    version: int = Field(ge=1)
    text: str
    content_hash: str
    author: str
    effective_date: date
    changelog: str
    jira_key: str | None
    based_on_version: int | None
    published_at: datetime


class ChangeKind(StrEnum):
    """How a proposed change is expressed."""

    REPLACE = "replace"
    SECTIONS = "sections"


class SectionEdit(_Frozen):
    """One section replaced, added (`lines` start with its heading) or deleted."""

    number: str
    line: int = Field(description="where the edit starts in the typed change, from 1")
    lines: tuple[str, ...] = ()
    delete: bool = False


class ProposedChange(_Frozen):
    """An expert's proposed change, parsed: the whole new text, or section edits."""

    kind: ChangeKind
    text: str = ""
    edits: tuple[SectionEdit, ...] = ()


class Draft(_Frozen):
    """A proposed change applied to the exact version it was assessed on."""

    sop_id: str
    base_version: int = Field(ge=1)
    base_hash: str
    text: str
    content_hash: str = ""
    kind: ChangeKind
    sections: tuple[str, ...] = Field(default=(), description="section numbers touched")

    @model_validator(mode="before")
    @classmethod
    def _bind_hash(cls, data: Any) -> Any:
        # The hash is derived from the text; a stored draft whose two disagree was tampered.
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            text = normalize_text(data["text"])
            given = data.get("content_hash") or content_hash(text)
            if given != content_hash(text):
                raise ValueError("content_hash does not match the draft text")
            data = {**data, "text": text, "content_hash": given}
        return data


def parse_proposed_change(raw: str) -> ProposedChange:
    """Read what an expert typed (see the module docstring); raise ProposedChangeInvalid."""
    lines = [line.rstrip() for line in _LINE_BREAK.split(raw.removeprefix("\ufeff"))]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ProposedChangeInvalid(
            [ChangeProblem(None, "the proposed change is empty", _CHANGE_HINT)]
        )
    if lines[first].strip().lower() == "@replace":
        return _whole_text(lines, first)
    return _section_edits(lines)


def _whole_text(lines: list[str], first: int) -> ProposedChange:
    text = normalize_text("\n".join(lines[first + 1 :]))
    if not text:
        raise ProposedChangeInvalid(
            [ChangeProblem(first + 1, "`@replace` is followed by no text", "paste the new SOP")]
        )
    if text.startswith("---\n"):
        at = next(i for i in range(first + 1, len(lines)) if lines[i].strip())
        raise ProposedChangeInvalid(
            [
                ChangeProblem(
                    at + 1,
                    "the text starts with front matter (`---`)",
                    "paste only the markdown body; title, owner and markets are not changed here",
                )
            ]
        )
    return ProposedChange(kind=ChangeKind.REPLACE, text=text)


@dataclass
class _Block:
    number: tuple[int, ...]
    line: int
    level: int
    lines: list[str]


def _section_edits(lines: list[str]) -> ProposedChange:
    problems: list[ChangeProblem] = []
    edits: list[SectionEdit] = []
    seen: dict[tuple[int, ...], int] = {}
    block: _Block | None = None
    fenced = False
    stray_reported = False

    def close() -> None:
        nonlocal block
        if block is not None:
            body = list(block.lines)
            while body and not body[-1]:
                body.pop()
            edits.append(
                SectionEdit(number=_dotted(block.number), line=block.line, lines=tuple(body))
            )
            block = None

    def claim(number: tuple[int, ...], n: int) -> None:
        if number in seen:
            problems.append(
                ChangeProblem(
                    n,
                    f"section {_dotted(number)} is already changed on line {seen[number]}",
                    "give each section once: one edit or one @delete",
                )
            )
        seen.setdefault(number, n)

    for n, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("@"):
            close()
            problems += _directive(line, n, edits, claim)
            continue
        elif not fenced and (heading := _heading(line)) is not None:
            level, number = heading
            if number is not None:
                close()
                claim(number, n)
                block = _Block(number, n, level, [line])
                continue
            if block is None or level <= block.level:
                problems.append(
                    ChangeProblem(
                        n,
                        f"heading `{line.strip()}` has no section number",
                        "section edits address sections by number, like `## 3.2 Title`; "
                        "to change unnumbered parts send the whole text after `@replace`",
                    )
                )
                continue
        if block is not None:
            block.lines.append(line)
        elif line.strip() and not stray_reported:
            stray_reported = True
            problems.append(ChangeProblem(n, "text before the first section heading", _CHANGE_HINT))
    close()
    if problems:
        raise ProposedChangeInvalid(problems)
    return ProposedChange(kind=ChangeKind.SECTIONS, edits=tuple(edits))


def _directive(
    line: str, n: int, edits: list[SectionEdit], claim: Callable[[tuple[int, ...], int], None]
) -> list[ChangeProblem]:
    match = _DIRECTIVE.match(line)
    name, argument = (match.group(1).lower(), match.group(2).strip()) if match else ("", "")
    if name == "delete":
        number = _NUMBER.match(argument)
        if number is None or number.end() != len(argument):
            return [ChangeProblem(n, f"`{line.strip()}` names no section", "write `@delete 5.3`")]
        parsed = _parse_number(number.group(1))
        claim(parsed, n)
        edits.append(SectionEdit(number=_dotted(parsed), line=n, delete=True))
        return []
    if name == "replace":
        return [
            ChangeProblem(
                n,
                "`@replace` must be the first line",
                "send either the whole text after `@replace`, or section edits",
            )
        ]
    return [
        ChangeProblem(
            n, f"unknown directive `{line.strip()}`", "the directives are @replace and @delete N"
        )
    ]


def _heading(line: str) -> tuple[int, tuple[int, ...] | None] | None:
    """The level and section number (None if unnumbered) of a markdown heading line."""
    match = _HEADING.match(line)
    if match is None:
        return None
    number = _NUMBER.match(match.group(2))
    return len(match.group(1)), _parse_number(number.group(1)) if number else None


def _parse_number(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _dotted(number: tuple[int, ...]) -> str:
    return ".".join(map(str, number))


class _Section(NamedTuple):
    number: tuple[int, ...]
    start: int
    end: int


def section_headings(text: str) -> dict[str, str]:
    """Each numbered section of `text` as `number -> heading line`, e.g. for a modal's hint."""
    lines = normalize_text(text).split("\n")
    return {_dotted(s.number): lines[s.start].strip() for s in _sections(lines)}


def numbered_sections(text: str) -> list[tuple[str, str, str]]:
    """Each numbered section as (number, heading text, own body), for quoting passages."""
    lines = normalize_text(text).split("\n")
    found = []
    for s in _sections(lines):
        match = _HEADING.match(lines[s.start])
        title = match.group(2) if match else lines[s.start].strip()
        number = _NUMBER.match(title)
        heading = title[number.end() :].strip() if number else title
        body = "\n".join(lines[s.start + 1 : s.end]).strip()
        found.append((_dotted(s.number), heading, body))
    return found


def _sections(lines: list[str]) -> list[_Section]:
    """Numbered sections in document order, with the line range of their own text."""
    headings: list[tuple[int, int, tuple[int, ...] | None]] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (heading := _heading(line)) is not None:
            headings.append((i, *heading))
    found = []
    for k, (i, level, number) in enumerate(headings):
        if number is None:
            continue
        end = next(
            (j for j, lv, num in headings[k + 1 :] if num is not None or lv <= level), len(lines)
        )
        found.append(_Section(number, i, end))
    return found


def draft_from_change(base_version: SopVersion, proposed_change: ProposedChange | str) -> Draft:
    """Apply a proposed change (typed text or parsed) to the exact version it was assessed on."""
    change = (
        parse_proposed_change(proposed_change)
        if isinstance(proposed_change, str)
        else proposed_change
    )
    touched: tuple[str, ...] = ()
    if change.kind is ChangeKind.REPLACE:
        text = normalize_text(change.text)
    else:
        text = _apply_edits(base_version, change.edits)
        touched = tuple(e.number for e in change.edits)
    if content_hash(text) == base_version.content_hash:
        raise ProposedChangeInvalid(
            [
                ChangeProblem(
                    None,
                    f"the change leaves version {base_version.version} exactly as it was",
                    "check the section numbers and the new wording",
                )
            ]
        )
    return Draft(
        sop_id=base_version.sop_id,
        base_version=base_version.version,
        base_hash=base_version.content_hash,
        text=text,
        kind=change.kind,
        sections=touched,
    )


def _apply_edits(base: SopVersion, edits: tuple[SectionEdit, ...]) -> str:
    """The base text with section edits applied, or ProposedChangeInvalid naming each misfit."""
    return _edit_text(base.text, f"version {base.version}", edits)


def _edit_text(text: str, what: str, edits: tuple[SectionEdit, ...]) -> str:
    """`text` (called `what` in problems) with section edits applied."""
    lines = normalize_text(text).rstrip("\n").split("\n")
    found = _sections(lines)
    where: dict[tuple[int, ...], list[_Section]] = {}
    for section in found:
        where.setdefault(section.number, []).append(section)
    problems: list[ChangeProblem] = []
    replace: dict[int, tuple[int, list[str]]] = {}  # start -> (end, new lines)
    insert: dict[int, list[tuple[tuple[int, ...], list[str]]]] = {}
    deleted = [_parse_number(e.number) for e in edits if e.delete]
    added = {_parse_number(e.number) for e in edits if not e.delete}
    for edit in edits:
        number = _parse_number(edit.number)
        ours = where.get(number, [])
        if len(ours) > 1:
            lines_at = ", ".join(str(s.start + 1) for s in ours)
            problems.append(
                ChangeProblem(
                    edit.line,
                    f"{what} has several sections {edit.number} (lines {lines_at})",
                    "send the whole text after `@replace`",
                )
            )
            continue
        if under := next((d for d in deleted if d != number and number[: len(d)] == d), None):
            problems.append(
                ChangeProblem(
                    edit.line,
                    f"section {edit.number} is inside section {_dotted(under)}, which is deleted",
                    "drop the edit or the @delete",
                )
            )
            continue
        if edit.delete:
            if not ours:
                problems.append(
                    ChangeProblem(
                        edit.line,
                        f"there is no section {edit.number} to delete in {what}",
                        f"sections are {_listing(found)}",
                    )
                )
                continue
            for section in found:
                if section.number[: len(number)] == number:
                    replace[section.start] = (section.end, [])
            continue
        block = [*edit.lines, ""]
        if ours:
            replace[ours[0].start] = (ours[0].end, block)
            continue
        parent = number[:-1]
        if parent and parent not in where and parent not in added:
            problems.append(
                ChangeProblem(
                    edit.line,
                    f"new section {edit.number} has no parent section {_dotted(parent)}",
                    f"add section {_dotted(parent)} too, or renumber (sections are "
                    f"{_listing(found)})",
                )
            )
            continue
        insert.setdefault(_insertion_point(found, number), []).append((number, block))
    if problems:
        raise ProposedChangeInvalid(problems)
    return _rebuild(lines, replace, insert)


def revise_text(text: str, proposed_change: ProposedChange | str, *, what: str) -> str:
    """`text` with a change in the proposed-change format applied; refused if it stays as is."""
    change = (
        parse_proposed_change(proposed_change)
        if isinstance(proposed_change, str)
        else proposed_change
    )
    if change.kind is ChangeKind.REPLACE:
        revised = normalize_text(change.text)
    else:
        revised = _edit_text(text, what, change.edits)
    if content_hash(revised) == content_hash(text):
        raise ProposedChangeInvalid(
            [
                ChangeProblem(
                    None,
                    f"the change leaves {what} exactly as it was",
                    "check the section numbers and the new wording",
                )
            ]
        )
    return revised


def edit_template(base_text: str, draft_text: str) -> str:
    """The draft's sections that differ from the base, as section edits a person can revise.

    Applied to the draft the template changes nothing, so it is what an edit form starts
    from; "" when the drafts differ only outside numbered sections (or not at all).
    """
    base = normalize_text(base_text).rstrip("\n").split("\n")
    draft = normalize_text(draft_text).rstrip("\n").split("\n")
    before = {s.number: base[s.start : s.end] for s in _sections(base)}
    blocks: list[str] = []
    for section in _sections(draft):
        own = draft[section.start : section.end]
        if before.get(section.number) != own:
            while own and not own[-1]:
                own = own[:-1]
            blocks.append("\n".join(own))
    return "\n\n".join(blocks)


def _insertion_point(found: list[_Section], number: tuple[int, ...]) -> int:
    """Just after the base section that precedes `number`, or before the first numbered one."""
    before = [s for s in found if s.number < number]
    if before:
        return max(before, key=lambda s: s.number).end
    return min((s.start for s in found), default=0)


def _rebuild(
    lines: list[str],
    replace: dict[int, tuple[int, list[str]]],
    insert: dict[int, list[tuple[tuple[int, ...], list[str]]]],
) -> str:
    out: list[str] = []

    def emit(block: list[str]) -> None:
        # A heading glued to the paragraph above it would read as part of that section.
        if block and out and out[-1]:
            out.append("")
        out.extend(block)

    i = 0
    while i <= len(lines):
        for _, block in sorted(insert.get(i, []), key=lambda item: item[0]):
            emit(block)
        if i == len(lines):
            break
        if i in replace:
            end, block = replace[i]
            emit(block)
            i = end
        else:
            out.append(lines[i])
            i += 1
    return normalize_text("\n".join(out))


def _listing(found: list[_Section]) -> str:
    numbers = [_dotted(s.number) for s in found]
    if not numbers:
        return "not numbered at all"
    return ", ".join(numbers[:40]) + (", ..." if len(numbers) > 40 else "")


class Publication(NamedTuple):
    """The version a publication gets, and whether it is new or a retry of the same one."""

    version: int
    new: bool


def plan_publication(
    latest: SopVersion,
    *,
    text_hash: str,
    based_on_version: int,
    effective_date: date,
    jira_key: str | None,
    today: date,
) -> Publication:
    """Decide the number of a new version after `latest`, or refuse with the reason."""
    sop = latest.sop_id
    if based_on_version != latest.version:
        # A publish retried after its commit (a double click, a re-run task) is not stale.
        if (
            jira_key is not None
            and latest.jira_key == jira_key
            and latest.based_on_version == based_on_version
            and latest.content_hash == text_hash
        ):
            return Publication(latest.version, new=False)
        if not 1 <= based_on_version < latest.version:
            raise PublicationRefused(f"{sop} has no version {based_on_version} to build on")
        raise StaleBase(sop, based_on=based_on_version, latest=latest.version)
    if text_hash == latest.content_hash:
        raise PublicationRefused(
            f"{sop}: the text is the same as version {latest.version}'s: nothing to publish"
        )
    if effective_date < today:
        # Backdating would rewrite which SOP was in force when past decisions were made.
        raise PublicationRefused(
            f"{sop}: effective date {effective_date} is in the past (today is {today})"
        )
    if effective_date < latest.effective_date:
        raise PublicationRefused(
            f"{sop}: effective date {effective_date} is before {latest.effective_date}, when "
            f"version {latest.version}, which this one builds on, takes effect"
        )
    return Publication(latest.version + 1, new=True)
