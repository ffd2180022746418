"""The training case of a published SOP version (domain.training)."""

from __future__ import annotations

from datetime import date

from domain.training import build_training_case, describe_changes, grade, render_training_markdown

BASE = """# SOP-X Example

## 1. Purpose

Why this SOP exists.

## 3. Signals

### 3.1 Strong signals

A listing that says replica is taken down.

### 3.2 Weak signals

Two weak signals lead to FIX_REQUIRED. One alone is not enough.

| signal | weight |
|---|---|
| low price | weak |

## 5. Strikes

Three strikes suspend the account.
"""


def case(new: str, **examples: str):  # type: ignore[no-untyped-def]
    return build_training_case(
        sop_id="SOP-LST-002",
        version=3,
        based_on_version=2,
        effective_date=date(2026, 12, 10),
        jira_key="MODREQ-9",
        summary="Handbag serial numbers",
        base_text=BASE,
        new_text=new,
        rationale="  Complaints rose 40%.  ",
        **examples,
    )


class TestDescribeChanges:
    def test_sentences_gained_and_lost_in_words(self) -> None:
        """A reworded section says what it now says and what it no longer says."""
        new = BASE.replace("One alone is not enough.", "One alone on a handbag is enough.")
        changes, other = describe_changes(BASE, new)
        assert [(c.number, c.kind) for c in changes] == [("3.2", "reworded")]
        assert "now says: “One alone on a handbag is enough.”" in changes[0].words
        assert "no longer says: “One alone is not enough.”" in changes[0].words
        assert not other

    def test_table_rows_count_as_sentences(self) -> None:
        """A changed table row is quoted as its cells, not as a diff."""
        new = BASE.replace("| low price | weak |", "| low price | strong |")
        [change] = describe_changes(BASE, new)[0]
        assert "now says: “low price | strong”" in change.words

    def test_added_removed_and_retitled(self) -> None:
        """New, removed and renamed sections are each named, in section order."""
        new = (
            BASE.replace("## 5. Strikes", "## 5. Penalties").replace(
                "### 3.1 Strong signals\n\nA listing that says replica is taken down.\n\n", ""
            )
            + "\n## 6. Appeals\n\nSellers appeal within 14 days.\n"
        )
        changes, _ = describe_changes(BASE, new)
        assert [(c.number, c.kind) for c in changes] == [
            ("3.1", "removed"),
            ("5", "retitled"),
            ("6", "added"),
        ]
        assert changes[1].words == "Section 5 is now called “Penalties” (was “Strikes”)."
        assert "It says: Sellers appeal within 14 days." in changes[2].words

    def test_text_outside_sections(self) -> None:
        """A new title is reported as a change outside the numbered sections."""
        changes, other = describe_changes(BASE, BASE.replace("# SOP-X Example", "# SOP-X New"))
        assert changes == [] and other


class TestCase:
    def test_examples_make_the_check(self) -> None:
        """Passes and fails examples become two questions with their answers."""
        built = case(BASE.replace("Three", "Two"), passes_example="ok bag", fails_example="bad")
        assert [(q.id, q.listing, q.passes) for q in built.check] == [
            ("q1", "ok bag", True),
            ("q2", "bad", False),
        ]
        assert built.why == "Complaints rose 40%."
        assert grade(built, {"q1": True, "q2": True}) == (1, 2)
        assert grade(built, {}) == (0, 2)

    def test_without_examples_the_case_says_so(self) -> None:
        """No examples: no check, and the Markdown says none were given."""
        built = case(BASE.replace("Three", "Two"))
        assert built.check == ()
        text = render_training_markdown(built)
        assert "None were given with this change." in text
        assert "No check: without worked examples" in text
        assert text.startswith("## Training case: SOP-LST-002 v3\n")
        assert "replaces v2 · MODREQ-9: Handbag serial numbers" in text
