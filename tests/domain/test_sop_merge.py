"""Rebasing drafts onto newer SOP versions, and diffs sized for Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.sop import SopVersion, content_hash
from domain.sop_draft import draft_from_change
from domain.sop_merge import Conflict, Rebased, rebase, rebase_draft, render_diff

BASE = "".join(f"line {i}\n" for i in range(1, 21))


def edit(text: str, **changes: str) -> str:
    """Replace `line N` by the given text (keyword `l7="..."`; empty string deletes)."""
    out = []
    for line in text.splitlines():
        key = "l" + line.removeprefix("line ")
        if key in changes:
            if changes[key]:
                out.append(changes[key])
        else:
            out.append(line)
    return "\n".join(out) + "\n"


class TestRebase:
    def test_disjoint_changes_merge(self) -> None:
        """Edits far apart on both sides are all in the result."""
        draft = edit(BASE, l3="draft three")
        current = edit(BASE, l15="current fifteen", l18="")
        result = rebase(draft, BASE, current)
        assert result == Rebased(text=edit(BASE, l3="draft three", l15="current fifteen", l18=""))

    def test_onto_an_unchanged_base_the_draft_is_returned(self) -> None:
        """Nothing published meanwhile: the rebase is the draft itself."""
        draft = edit(BASE, l3="x", l4="")
        assert rebase(draft, BASE, BASE) == Rebased(text=draft)

    def test_same_line_changed_differently_conflicts(self) -> None:
        """Both sides rewrote line 10: a conflict showing base, draft and current."""
        result = rebase(edit(BASE, l10="draft ten"), BASE, edit(BASE, l10="current ten"))
        assert isinstance(result, Conflict)
        (hunk,) = result.hunks
        assert (hunk.base_start, hunk.base, hunk.draft, hunk.current) == (
            10,
            ("line 10",),
            ("draft ten",),
            ("current ten",),
        )
        assert "<<<<<<< draft\ndraft ten\n||||||| base\nline 10\n=======" in result.render()

    def test_adjacent_changes_conflict(self) -> None:
        """Neighbouring lines changed by each side are not merged by guesswork."""
        result = rebase(edit(BASE, l10="d"), BASE, edit(BASE, l11="c"))
        assert isinstance(result, Conflict)
        assert result.hunks[0].base == ("line 10", "line 11")

    def test_identical_changes_merge_once(self) -> None:
        """The same fix made on both sides is taken once."""
        both = edit(BASE, l5="fixed five")
        assert rebase(both, BASE, both) == Rebased(text=both)

    def test_insertions_at_the_same_place_conflict(self) -> None:
        """Two different additions at one spot have no right order."""
        draft = BASE.replace("line 5\n", "line 5\ndraft added\n")
        current = BASE.replace("line 5\n", "line 5\ncurrent added\n")
        result = rebase(draft, BASE, current)
        assert isinstance(result, Conflict)
        assert (result.hunks[0].draft, result.hunks[0].current) == (
            ("draft added",),
            ("current added",),
        )

    def test_every_conflicting_hunk_is_listed_and_clean_ones_are_not(self) -> None:
        """Two clashes and one clean change: a Conflict with exactly the two clashes."""
        draft = edit(BASE, l2="d2", l8="d8", l17="d17")
        current = edit(BASE, l2="c2", l17="c17")
        result = rebase(draft, BASE, current)
        assert isinstance(result, Conflict)
        assert [h.base_start for h in result.hunks] == [2, 17]

    def test_line_endings_do_not_create_changes(self) -> None:
        """A current text saved with CRLF merges as if it had LF."""
        result = rebase(edit(BASE, l1="d"), BASE, edit(BASE, l20="c").replace("\n", "\r\n"))
        assert isinstance(result, Rebased)
        assert result.content_hash == content_hash(edit(BASE, l1="d", l20="c"))


def sop_version(text: str, number: int) -> SopVersion:
    return SopVersion(
        sop_id="SOP-LST-001",
        version=number,
        text=text,
        content_hash=content_hash(text),
        author="a",
        effective_date=date(2026, 7, 1),
        changelog="",
        jira_key=None,
        based_on_version=number - 1 or None,
        published_at=datetime(2026, 7, 1, tzinfo=UTC),
    )


class TestRebaseDraft:
    SOP = "# T\n\n## 1. Scope\n\nAll.\n\n## 2. Rules\n\nOld rule.\n\n## 3. Escalation\n\nL2.\n"

    def test_clean_rebase_moves_the_draft_onto_the_new_version(self) -> None:
        """The rebased draft is based on the current version and carries both changes."""
        v1 = sop_version(self.SOP, 1)
        v2 = sop_version(self.SOP.replace("L2.", "L2 within a day."), 2)
        draft = draft_from_change(v1, "## 2. Rules\n\nNew rule.\n")
        rebased = rebase_draft(draft, v1, v2)
        assert not isinstance(rebased, Conflict)
        assert (rebased.base_version, rebased.base_hash) == (2, v2.content_hash)
        assert "New rule." in rebased.text and "L2 within a day." in rebased.text
        assert rebased.content_hash != draft.content_hash  # sign-offs must be asked again
        assert rebased.sections == ("2",)

    def test_conflict_is_returned(self) -> None:
        """The same section rewritten on both sides is a Conflict."""
        v1 = sop_version(self.SOP, 1)
        v2 = sop_version(self.SOP.replace("Old rule.", "Other rule."), 2)
        draft = draft_from_change(v1, "## 2. Rules\n\nNew rule.\n")
        assert isinstance(rebase_draft(draft, v1, v2), Conflict)

    def test_the_wrong_base_is_refused(self) -> None:
        """Merging against a base the draft was not written on is a programming error."""
        v1, v2 = sop_version(self.SOP, 1), sop_version(self.SOP + "\nMore.\n", 2)
        draft = draft_from_change(v2, "## 2. Rules\n\nNew rule.\n")
        with pytest.raises(ValueError, match="given base"):
            rebase_draft(draft, v1, v2)


class TestRenderDiff:
    OLD = "".join(f"line {i}\n" for i in range(1, 201))
    NEW = edit(OLD, l10="ten", l60="sixty", l110="one-ten", l160="one-sixty")

    def test_full_diff_without_limits(self) -> None:
        """No limit: every hunk, not truncated."""
        text, truncated = render_diff(self.OLD, self.NEW, a_label="v1", b_label="draft")
        assert not truncated
        assert text.startswith("--- v1\n+++ draft\n@@ -7,7 +7,7 @@")
        assert text.count("@@ -") == 4

    def test_cut_at_hunk_boundaries_with_a_note(self) -> None:
        """Whole hunks while they fit, then one line saying what was left out."""
        # Each hunk is 9 lines (header, 3 context, -, +, 3 context); the file header is 2.
        text, truncated = render_diff(self.OLD, self.NEW, max_lines=21)
        lines = text.split("\n")
        assert truncated and len(lines) == 21
        assert text.count("@@ -") == 2
        assert lines[-1] == "... 18 more diff lines not shown (2 more hunks)"

    def test_a_huge_first_hunk_is_cut_inside(self) -> None:
        """When not even one hunk fits, as much of it as fits is shown."""
        text, truncated = render_diff("a\n" * 10, "b\n" * 10, max_lines=8)
        lines = text.split("\n")
        assert truncated and len(lines) == 8
        assert lines[-1] == "... 16 more diff lines not shown"  # 23 lines, 7 shown

    def test_character_limit(self) -> None:
        """A Slack text limit in characters is honoured too."""
        text, truncated = render_diff(self.OLD, self.NEW, max_chars=300)
        assert truncated and len(text) <= 300

    def test_no_difference_is_empty(self) -> None:
        """Equal texts (up to line endings) have an empty diff."""
        assert render_diff(BASE, BASE.replace("\n", "\r\n"), max_lines=5) == ("", False)

    def test_impossible_limits_are_refused(self) -> None:
        """Limits that leave no room for a line are a programming error."""
        with pytest.raises(ValueError, match="room"):
            render_diff(self.OLD, self.NEW, max_lines=0)
