"""SOP texts: hashing, the proposed-change format, drafts and the publication rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import ProposedChangeInvalid, PublicationRefused, StaleBase
from domain.sop import SopVersion, content_hash, normalize_text, signoff_still_valid
from domain.sop_change import ChangeKind, parse_proposed_change
from domain.sop_draft import Draft, draft_from_change
from domain.sop_publication import plan_publication
from domain.sop_sections import section_headings

BASE = """\
# SOP-LST-001 Prohibited items

## 1. Purpose

Why this SOP exists.

## 2. Definitions

### 2.1 Prohibited item

May not be listed.

### 2.2 Restricted item

Needs a permit.

#### Notes

Permits expire.

## 3. Escalation

Escalate to L2.

```
## 9 not a heading inside a fence
```

## Revision history

Kept by the registry.
"""


def version(text: str = BASE, number: int = 1, **overrides: object) -> SopVersion:
    values: dict[str, object] = {
        "sop_id": "SOP-LST-001",
        "version": number,
        "text": normalize_text(text),
        "content_hash": content_hash(text),
        "author": "U0EX00003",
        "effective_date": date(2026, 7, 1),
        "changelog": "",
        "jira_key": None,
        "based_on_version": None,
        "published_at": datetime(2026, 6, 1, tzinfo=UTC),
    }
    return SopVersion.model_validate(values | overrides)


def problems(exc: pytest.ExceptionInfo[ProposedChangeInvalid]) -> list[tuple[int | None, str]]:
    return [(p.line, p.message) for p in exc.value.problems]


class TestContentHash:
    def test_line_endings_and_trailing_whitespace_do_not_matter(self) -> None:
        """CRLF, CR, trailing blanks, a BOM and edge blank lines give the same hash."""
        plain = "# T\n\nbody line\n"
        assert content_hash("\ufeff\r\n# T  \r\n\r\nbody line\t\r\n\r\n") == content_hash(plain)
        assert content_hash("\n\n# T\r\rbody line") == content_hash(plain)  # CR CR: 2 breaks
        assert content_hash("# T\r\nbody line\n") != content_hash(plain)  # blank line lost
        assert content_hash("# T\n\nbody line\n") == content_hash("# T\n\nbody line")

    def test_any_word_changes_the_hash(self) -> None:
        """Inner whitespace and wording are content."""
        assert content_hash("a b\n") != content_hash("a  b\n")

    def test_signoff_is_bound_to_the_exact_text(self) -> None:
        """A sign-off holds for the same text in any line-ending style, and for nothing else."""
        approved = content_hash(BASE)
        assert signoff_still_valid(approved, BASE.replace("\n", "\r\n"))
        assert signoff_still_valid(approved.upper(), BASE)
        assert not signoff_still_valid(approved, BASE.replace("L2", "L3"))
        assert not signoff_still_valid("not a hash ü", BASE)


class TestProposedChangeFormat:
    def test_replace_takes_everything_after_the_directive(self) -> None:
        """`@replace` on the first non-blank line makes the rest the whole new text."""
        change = parse_proposed_change("\n  @REPLACE  \n# New\n\nAll new.\n")
        assert (change.kind, change.text) == (ChangeKind.REPLACE, "# New\n\nAll new.\n")

    def test_section_blocks_and_deletes(self) -> None:
        """Numbered headings start blocks, which run to the next one; @delete names a section."""
        change = parse_proposed_change(
            "## 2.2 Restricted item\nNew text.\n#### Sub note\nstill 2.2\n\n@delete 3\n### 4 New\nx"
        )
        assert [(e.number, e.line, e.delete) for e in change.edits] == [
            ("2.2", 1, False),
            ("3", 6, True),
            ("4", 7, False),
        ]
        assert change.edits[0].lines == (
            "## 2.2 Restricted item",
            "New text.",
            "#### Sub note",
            "still 2.2",
        )

    def test_empty_change_is_refused(self) -> None:
        """Nothing typed is a clear error, not an empty draft."""
        with pytest.raises(ProposedChangeInvalid, match="empty"):
            parse_proposed_change(" \n\n")

    def test_every_problem_is_reported_with_its_line(self) -> None:
        """Stray text, unnumbered headings, unknown directives and repeats are all listed."""
        with pytest.raises(ProposedChangeInvalid) as exc:
            parse_proposed_change(
                "Please change 2.2\n## Purpose\n@frobnicate\n## 2.2 A\nx\n@delete 2.2\n"
                "@delete two\n@replace\n"
            )
        assert [line for line, _ in problems(exc)] == [1, 2, 3, 6, 7, 8]
        assert "text before the first section heading" in problems(exc)[0][1]
        assert "already changed on line 4" in problems(exc)[3][1]

    def test_replace_without_text_or_with_front_matter_is_refused(self) -> None:
        """The whole-text form needs a markdown body and only that."""
        with pytest.raises(ProposedChangeInvalid, match="followed by no text"):
            parse_proposed_change("@replace\n\n")
        with pytest.raises(ProposedChangeInvalid) as exc:
            parse_proposed_change("@replace\n\n---\nid: SOP-LST-001\n---\n# x\n")
        assert problems(exc) == [(3, "the text starts with front matter (`---`)")]

    def test_headings_inside_fences_are_text(self) -> None:
        """A fenced `## 9` inside a block stays part of that block's body."""
        change = parse_proposed_change("## 3. Escalation\n```\n## 9 x\n@delete 1\n```\n")
        assert [e.number for e in change.edits] == ["3"]
        assert len(change.edits[0].lines) == 5


class TestDraftFromChange:
    def test_replacing_a_section_keeps_its_subsections_and_neighbours(self) -> None:
        """`## 2` replaces only 2's own text; 2.1 and 2.2 stay."""
        draft = draft_from_change(version(), "## 2. Definitions and terms\nTerms used below.\n")
        assert "## 2. Definitions and terms\nTerms used below.\n\n### 2.1" in draft.text
        assert "### 2.2 Restricted item" in draft.text
        assert (draft.base_version, draft.base_hash) == (1, content_hash(BASE))
        assert draft.content_hash == content_hash(draft.text)
        assert draft.sections == ("2",)

    def test_unnumbered_subheadings_belong_to_their_section(self) -> None:
        """Replacing 2.2 also replaces its unnumbered `#### Notes`."""
        draft = draft_from_change(version(), "### 2.2 Restricted item\nNeeds a valid permit.\n")
        assert "Permits expire." not in draft.text
        assert "Needs a valid permit.\n\n## 3. Escalation" in draft.text

    def test_new_sections_go_after_their_numeric_predecessor(self) -> None:
        """2.3 lands after 2.2 (with its notes), 4 after 3 but before unnumbered trailers."""
        draft = draft_from_change(version(), "### 2.3 Allowed item\nA.\n## 4. Appeals\nB.\n")
        text = draft.text
        assert text.index("Permits expire.") < text.index("### 2.3") < text.index("## 3.")
        assert text.index("## 3.") < text.index("## 4. Appeals") < text.index("## Revision")
        assert "```\n\n## 4. Appeals" in text  # the fenced `## 9` is no section

    def test_new_section_before_all_others(self) -> None:
        """A number below every base section goes before the first numbered one."""
        draft = draft_from_change(version(), "## 0. Summary\nShort.\n")
        assert draft.text.index("## 0. Summary") < draft.text.index("## 1. Purpose")
        assert draft.text.startswith("# SOP-LST-001 Prohibited items\n\n## 0. Summary")

    def test_delete_removes_the_section_and_its_subsections(self) -> None:
        """@delete 2 drops 2, 2.1, 2.2 and the notes under 2.2."""
        draft = draft_from_change(version(), "@delete 2\n")
        assert "## 2." not in draft.text and "2.1" not in draft.text
        assert "Permits expire." not in draft.text
        assert "Why this SOP exists.\n\n## 3. Escalation" in draft.text

    def test_a_new_subsection_needs_its_parent(self) -> None:
        """7.1 without a 7 is refused; with 7 in the same change it is placed under it."""
        with pytest.raises(ProposedChangeInvalid, match="no parent section 7"):
            draft_from_change(version(), "### 7.1 Orphan\nx\n")
        draft = draft_from_change(version(), "### 7.1 Child\nc\n## 7. Parent\np\n")
        assert draft.text.index("## 7. Parent") < draft.text.index("### 7.1 Child")

    def test_base_mismatches_are_reported(self) -> None:
        """Deleting a missing section, or editing inside a deleted one, names the section."""
        with pytest.raises(ProposedChangeInvalid) as exc:
            draft_from_change(version(), "@delete 5\n@delete 2\n### 2.1 X\ny\n")
        assert [line for line, _ in problems(exc)] == [1, 3]
        assert "sections are 1, 2, 2.1, 2.2, 3" in str(exc.value)

    def test_an_ambiguous_base_section_is_refused(self) -> None:
        """When the base uses a number twice, a section edit cannot know which one is meant."""
        twice = version(BASE.replace("## 3. Escalation", "## 2. Escalation"))
        with pytest.raises(ProposedChangeInvalid, match="several sections 2"):
            draft_from_change(twice, "## 2. Definitions\nx\n")

    def test_a_change_that_changes_nothing_is_refused(self) -> None:
        """Retyping a section as it is makes no draft."""
        same = "### 2.1 Prohibited item\n\nMay not be listed.\n"
        with pytest.raises(ProposedChangeInvalid, match="exactly as it was"):
            draft_from_change(version(), same)
        with pytest.raises(ProposedChangeInvalid, match="exactly as it was"):
            draft_from_change(version(), "@replace\n" + BASE.replace("\n", "\r\n"))

    def test_replace_gives_the_new_text(self) -> None:
        """The whole-text form yields exactly that text, normalized."""
        draft = draft_from_change(version(), "@replace\n# New SOP  \r\n\r\nBody.")
        assert (draft.text, draft.kind, draft.sections) == ("# New SOP\n\nBody.\n", "replace", ())

    def test_a_stored_draft_with_a_wrong_hash_does_not_load(self) -> None:
        """The hash is derived from the text; disagreeing values are refused."""
        draft = draft_from_change(version(), "## 1. Purpose\nNew purpose.\n")
        assert Draft.model_validate(draft.model_dump()) == draft
        with pytest.raises(ValueError, match="does not match"):
            Draft.model_validate(draft.model_dump() | {"text": "tampered\n"})

    def test_section_headings_skip_fences(self) -> None:
        """The modal hint lists numbered sections only, none from code blocks."""
        assert list(section_headings(BASE)) == ["1", "2", "2.1", "2.2", "3"]


class TestPlanPublication:
    TODAY = date(2026, 11, 27)

    def plan(self, latest: SopVersion, **kwargs: object) -> tuple[int, bool]:
        values: dict[str, object] = {
            "text_hash": content_hash("new text\n"),
            "based_on_version": latest.version,
            "effective_date": self.TODAY,
            "jira_key": "MODREQ-1",
            "today": self.TODAY,
        }
        return tuple(plan_publication(latest, **(values | kwargs)))  # type: ignore[arg-type,return-value]

    def test_next_version_on_the_latest(self) -> None:
        """A draft based on the latest version becomes the next number."""
        assert self.plan(version(number=3)) == (4, True)

    def test_stale_base_is_refused(self) -> None:
        """A draft based on an older version must be rebased first."""
        with pytest.raises(StaleBase) as exc:
            self.plan(version(number=3), based_on_version=2)
        assert (exc.value.based_on, exc.value.latest) == (2, 3)

    def test_a_retry_of_the_same_publication_is_not_stale(self) -> None:
        """Same request, same base, same text as the latest: report that version, add none."""
        latest = version("new text\n", number=4, based_on_version=3, jira_key="MODREQ-1")
        assert self.plan(latest, based_on_version=3) == (4, False)
        with pytest.raises(StaleBase):
            self.plan(latest, based_on_version=3, jira_key="MODREQ-2")

    def test_unknown_base_nothing_new_backdated_or_out_of_order(self) -> None:
        """Each is refused with its own reason."""
        latest = version(number=2, effective_date=date(2026, 12, 1))
        with pytest.raises(PublicationRefused, match="no version 7"):
            self.plan(latest, based_on_version=7)
        with pytest.raises(PublicationRefused, match="nothing to publish"):
            self.plan(latest, text_hash=latest.content_hash, effective_date=date(2026, 12, 1))
        with pytest.raises(PublicationRefused, match="in the past"):
            self.plan(latest, effective_date=date(2026, 11, 26))
        with pytest.raises(PublicationRefused, match="before 2026-12-01"):
            self.plan(latest, effective_date=date(2026, 11, 30))
        assert self.plan(latest, effective_date=date(2026, 12, 1)) == (3, True)
