"""An expert's proposed change to an SOP, as typed in the Slack modal, parsed and checked.

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

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import ChangeProblem, ProposedChangeInvalid
from domain.sop import LINE_BREAK, normalize_text
from domain.sop_sections import FENCE, NUMBER, dotted, heading_of, parse_number

_DIRECTIVE = re.compile(r"^@([A-Za-z_]*)[ \t]*(.*)$")
_CHANGE_HINT = (
    "start each edit with a numbered heading like `## 3.2 Title`, "
    "or send the whole text after `@replace`"
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


def parse_proposed_change(raw: str) -> ProposedChange:
    """Read what an expert typed (see the module docstring); raise ProposedChangeInvalid."""
    lines = [line.rstrip() for line in LINE_BREAK.split(raw.removeprefix("\ufeff"))]
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
                SectionEdit(number=dotted(block.number), line=block.line, lines=tuple(body))
            )
            block = None

    def claim(number: tuple[int, ...], n: int) -> None:
        if number in seen:
            problems.append(
                ChangeProblem(
                    n,
                    f"section {dotted(number)} is already changed on line {seen[number]}",
                    "give each section once: one edit or one @delete",
                )
            )
        seen.setdefault(number, n)

    for n, line in enumerate(lines, start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("@"):
            close()
            problems += _directive(line, n, edits, claim)
            continue
        elif not fenced and (heading := heading_of(line)) is not None:
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
        number = NUMBER.match(argument)
        if number is None or number.end() != len(argument):
            return [ChangeProblem(n, f"`{line.strip()}` names no section", "write `@delete 5.3`")]
        parsed = parse_number(number.group(1))
        claim(parsed, n)
        edits.append(SectionEdit(number=dotted(parsed), line=n, delete=True))
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
