"""The numbered sections of an SOP text: markdown headings, section numbers, their extents.

A heading is `#` to `######`, a space, a number (`3`, `3.` or `3.2.1`), the title. Lines
inside ``` or ~~~ fences are never headings. A section is its heading line and its own text:
up to the next numbered heading of any level, or the next heading of the same or a higher
level. So `### 3.2` does not include `#### 3.2.1`, which is a section of its own.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from domain.sop import normalize_text

HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$")
NUMBER = re.compile(r"^(\d{1,4}(?:\.\d{1,4})*)\.?(?=[ \t]|$)")
FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def heading_of(line: str) -> tuple[int, tuple[int, ...] | None] | None:
    """The level and section number (None if unnumbered) of a markdown heading line."""
    match = HEADING.match(line)
    if match is None:
        return None
    number = NUMBER.match(match.group(2))
    return len(match.group(1)), parse_number(number.group(1)) if number else None


def parse_number(text: str) -> tuple[int, ...]:
    """A section number as a tuple of ints: `3.2.1` -> (3, 2, 1), which sorts numerically."""
    return tuple(int(part) for part in text.split("."))


def dotted(number: tuple[int, ...]) -> str:
    """A section number as written: (3, 2, 1) -> `3.2.1`."""
    return ".".join(map(str, number))


class Section(NamedTuple):
    """A numbered section: its number and the line range [start, end) of its own text."""

    number: tuple[int, ...]
    start: int
    end: int


def section_headings(text: str) -> dict[str, str]:
    """Each numbered section of `text` as `number -> heading line`, e.g. for a modal's hint."""
    lines = normalize_text(text).split("\n")
    return {dotted(s.number): lines[s.start].strip() for s in sections_of(lines)}


def numbered_sections(text: str) -> list[tuple[str, str, str]]:
    """Each numbered section as (number, heading text, own body), for quoting passages."""
    lines = normalize_text(text).split("\n")
    found = []
    for s in sections_of(lines):
        match = HEADING.match(lines[s.start])
        title = match.group(2) if match else lines[s.start].strip()
        number = NUMBER.match(title)
        heading = title[number.end() :].strip() if number else title
        body = "\n".join(lines[s.start + 1 : s.end]).strip()
        found.append((dotted(s.number), heading, body))
    return found


def sections_of(lines: list[str]) -> list[Section]:
    """Numbered sections in document order, with the line range of their own text."""
    headings: list[tuple[int, int, tuple[int, ...] | None]] = []
    fenced = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (heading := heading_of(line)) is not None:
            headings.append((i, *heading))
    found = []
    for k, (i, level, number) in enumerate(headings):
        if number is None:
            continue
        end = next(
            (j for j, lv, num in headings[k + 1 :] if num is not None or lv <= level), len(lines)
        )
        found.append(Section(number, i, end))
    return found
