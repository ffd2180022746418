"""A proposed change applied to the exact SOP version it was assessed on: the draft.

A draft carries the hash of its own text, so a sign-off bound to that hash no longer holds
once the draft changes. `revise_text` applies a further change to a draft's text, and
`edit_template` gives back a draft's changed sections as an edit a person can revise.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import ChangeProblem, ProposedChangeInvalid
from domain.sop import SopVersion, content_hash, normalize_text
from domain.sop_change import ChangeKind, ProposedChange, SectionEdit, parse_proposed_change
from domain.sop_sections import Section, dotted, parse_number, sections_of


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
    found = sections_of(lines)
    where: dict[tuple[int, ...], list[Section]] = {}
    for section in found:
        where.setdefault(section.number, []).append(section)
    problems: list[ChangeProblem] = []
    replace: dict[int, tuple[int, list[str]]] = {}  # start -> (end, new lines)
    insert: dict[int, list[tuple[tuple[int, ...], list[str]]]] = {}
    deleted = [parse_number(e.number) for e in edits if e.delete]
    added = {parse_number(e.number) for e in edits if not e.delete}
    for edit in edits:
        number = parse_number(edit.number)
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
                    f"section {edit.number} is inside section {dotted(under)}, which is deleted",
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
                    f"new section {edit.number} has no parent section {dotted(parent)}",
                    f"add section {dotted(parent)} too, or renumber (sections are "
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
    before = {s.number: base[s.start : s.end] for s in sections_of(base)}
    blocks: list[str] = []
    for section in sections_of(draft):
        own = draft[section.start : section.end]
        if before.get(section.number) != own:
            while own and not own[-1]:
                own = own[:-1]
            blocks.append("\n".join(own))
    return "\n\n".join(blocks)


def _insertion_point(found: list[Section], number: tuple[int, ...]) -> int:
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


def _listing(found: list[Section]) -> str:
    numbers = [dotted(s.number) for s in found]
    if not numbers:
        return "not numbered at all"
    return ", ".join(numbers[:40]) + (", ..." if len(numbers) > 40 else "")
