"""Rebasing a draft onto a newer SOP version (a line-based three-way merge), and diffs.

A draft was written on version B of an SOP; since then version C was published. The draft's
changes (B -> draft) and the published ones (B -> C) are each found with difflib, both in B's
line numbers, and applied together when they are apart. Two changes that overlap, or touch
(adjacent, no unchanged line between them), conflict unless both made the very same change:
like git's merge, we do not guess the order of edits to neighbouring lines. One conflict
makes the whole rebase a `Conflict` listing every overlapping hunk; nothing is merged
silently and nothing is overwritten.

A clean rebase still changes the draft's text, and so its content hash: sign-offs bound to
the old hash no longer hold (`domain.sop.signoff_still_valid`); whether to ask again is the
caller's policy, not this module's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from domain.sop import SopVersion, content_hash, normalize_text
from domain.sop_draft import Draft


class _Side(Enum):
    DRAFT = "draft"
    CURRENT = "current"


@dataclass(frozen=True)
class _Change:
    """Base lines `[start, end)` become `lines` on one side."""

    start: int
    end: int
    lines: tuple[str, ...]
    side: _Side


class ConflictHunk(BaseModel):
    """Base lines both sides changed, each differently, and what each side made of them."""

    model_config = ConfigDict(frozen=True)

    base_start: int  # first base line of the hunk, from 1 (for an insertion: the line after)
    base: tuple[str, ...]
    draft: tuple[str, ...]
    current: tuple[str, ...]

    def render(self) -> str:
        """The hunk in the familiar conflict-marker layout, for Slack or a terminal."""
        count = len(self.base)
        span = f"line {self.base_start}" if count <= 1 else f"lines {self.base_start}-"
        span += "" if count <= 1 else str(self.base_start + count - 1)
        return "\n".join(
            [
                f"@@ {span} of the base version @@",
                "<<<<<<< draft",
                *self.draft,
                "||||||| base",
                *self.base,
                "=======",
                *self.current,
                ">>>>>>> current",
            ]
        )


class Conflict(BaseModel):
    """The draft and the newer version changed the same lines: a person must reconcile."""

    model_config = ConfigDict(frozen=True)

    hunks: tuple[ConflictHunk, ...]

    def render(self) -> str:
        """Every hunk, one after the other."""
        return "\n\n".join(hunk.render() for hunk in self.hunks)


class Rebased(BaseModel):
    """The draft's changes applied on top of the newer version."""

    model_config = ConfigDict(frozen=True)

    text: str

    @property
    def content_hash(self) -> str:
        """The hash a new sign-off on this text would bind to."""
        return content_hash(self.text)


def _lines(text: str) -> list[str]:
    normal = normalize_text(text)
    return normal.rstrip("\n").split("\n") if normal else []


def _changes(base: list[str], other: list[str], side: _Side) -> list[_Change]:
    # autojunk off: SOPs repeat blank lines and table rules, which autojunk would ignore.
    matcher = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [
        _Change(i1, i2, tuple(other[j1:j2]), side)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _region(base: list[str], start: int, end: int, changes: list[_Change]) -> tuple[str, ...]:
    """Base lines `[start, end)` as one side sees them after its changes there."""
    out: list[str] = []
    at = start
    for change in changes:
        out += base[at : change.start]
        out += change.lines
        at = change.end
    out += base[at:end]
    return tuple(out)


def rebase(draft: str, base_text: str, new_current_text: str) -> Rebased | Conflict:
    """Replay the draft's changes to `base_text` on `new_current_text`, or say where they clash."""
    base = _lines(base_text)
    changes = sorted(
        _changes(base, _lines(draft), _Side.DRAFT)
        + _changes(base, _lines(new_current_text), _Side.CURRENT),
        key=lambda c: (c.start, c.end),
    )
    clusters: list[list[_Change]] = []
    reach = -1
    for change in changes:
        # `<=`: a change starting where another ends touches it, and touching is a clash.
        if clusters and change.start <= reach:
            clusters[-1].append(change)
            reach = max(reach, change.end)
        else:
            clusters.append([change])
            reach = change.end
    merged: list[str] = []
    hunks: list[ConflictHunk] = []
    at = 0
    for cluster in clusters:
        start, end = cluster[0].start, max(c.end for c in cluster)
        merged += base[at:start]
        ours = _region(base, start, end, [c for c in cluster if c.side is _Side.DRAFT])
        theirs = _region(base, start, end, [c for c in cluster if c.side is _Side.CURRENT])
        sides = {c.side for c in cluster}
        if sides == {_Side.DRAFT}:
            merged += ours
        elif sides == {_Side.CURRENT} or ours == theirs:
            merged += theirs
        else:
            hunks.append(
                ConflictHunk(
                    base_start=start + 1, base=tuple(base[start:end]), draft=ours, current=theirs
                )
            )
        at = end
    merged += base[at:]
    if hunks:
        return Conflict(hunks=tuple(hunks))
    return Rebased(text=normalize_text("\n".join(merged)))


def rebase_draft(draft: Draft, base: SopVersion, current: SopVersion) -> Draft | Conflict:
    """The draft re-based onto `current` (same kind and sections), or the Conflict."""
    if (base.sop_id, base.version, base.content_hash) != (
        draft.sop_id,
        draft.base_version,
        draft.base_hash,
    ) or current.sop_id != draft.sop_id:
        # Merging against the wrong base would silently revert or duplicate changes.
        raise ValueError(
            f"draft of {draft.sop_id} v{draft.base_version} given base {base.sop_id} "
            f"v{base.version} and current {current.sop_id} v{current.version}"
        )
    result = rebase(draft.text, base.text, current.text)
    if isinstance(result, Conflict):
        return result
    return Draft(
        sop_id=draft.sop_id,
        base_version=current.version,
        base_hash=current.content_hash,
        text=result.text,
        kind=draft.kind,
        sections=draft.sections,
    )


class RenderedDiff(NamedTuple):
    """A unified diff, and whether it was cut short to fit."""

    text: str
    truncated: bool


def render_diff(
    a: str,
    b: str,
    *,
    max_lines: int | None = None,
    max_chars: int | None = None,
    a_label: str = "a",
    b_label: str = "b",
    context: int = 3,
) -> RenderedDiff:
    """Unified diff of `a` to `b`; with limits, whole hunks while they fit, then a note."""
    lines = list(
        difflib.unified_diff(
            _lines(a), _lines(b), fromfile=a_label, tofile=b_label, n=context, lineterm=""
        )
    )
    if _fits(lines, max_lines, max_chars):
        return RenderedDiff("\n".join(lines), truncated=False)
    if (max_lines is not None and max_lines < 1) or (max_chars is not None and max_chars < 80):
        raise ValueError("a truncated diff needs room for at least one line of 80 characters")
    # Room is kept for the closing note, sized for the largest counts it could show.
    widest_note = _note(len(lines), len(lines))
    kept, hunks = lines[:2], _hunks(lines[2:])
    if not _fits([*kept, widest_note], max_lines, max_chars):
        kept = []
    shown = 0
    for hunk in hunks:
        if not _fits([*kept, *hunk, widest_note], max_lines, max_chars):
            break
        kept += hunk
        shown += 1
    partial = 0
    if shown == 0:
        # Not even the first hunk fits: show as much of it as the limits allow.
        for line in hunks[0]:
            if not _fits([*kept, line, widest_note], max_lines, max_chars):
                break
            kept.append(line)
            partial = 1
    kept.append(_note(len(lines) - len(kept), len(hunks) - shown - partial))
    return RenderedDiff("\n".join(kept), truncated=True)


def _hunks(lines: list[str]) -> list[list[str]]:
    hunks: list[list[str]] = []
    for line in lines:
        if line.startswith("@@") or not hunks:
            hunks.append([])
        hunks[-1].append(line)
    return hunks


def _note(omitted_lines: int, omitted_hunks: int) -> str:
    more = f" ({omitted_hunks} more hunk{'s' if omitted_hunks != 1 else ''})"
    return f"... {omitted_lines} more diff lines not shown{more if omitted_hunks else ''}"


def _fits(lines: list[str], max_lines: int | None, max_chars: int | None) -> bool:
    if max_lines is not None and len(lines) > max_lines:
        return False
    return max_chars is None or sum(len(line) + 1 for line in lines) - 1 <= max_chars
