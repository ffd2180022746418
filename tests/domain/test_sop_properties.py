"""Properties of the SOP text functions: hashing and the three-way merge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.sop import content_hash, normalize_text
from domain.sop_merge import Conflict, Rebased, rebase

FAST = settings(max_examples=150, deadline=None)

words = st.text(alphabet="abcdefghij |-#", min_size=0, max_size=12)
texts = st.lists(words, min_size=0, max_size=30).map("\n".join)


@st.composite
def documents(draw: st.DrawFn) -> list[str]:
    """A base document of distinct lines, like numbered SOP lines."""
    return [f"base line {i}" for i in range(draw(st.integers(1, 40)))]


@st.composite
def edit_plan(draw: st.DrawFn, size: int) -> dict[int, list[str]]:
    """Lines to rewrite (a list of 0-3 new lines each), keyed by base line index."""
    chosen = draw(st.sets(st.integers(0, size - 1), max_size=min(size, 6)))
    return {i: draw(st.lists(st.just("x"), max_size=3)) for i in chosen}


def apply(base: list[str], plan: dict[int, list[str]], tag: str) -> list[str]:
    """Base with each planned line replaced by unique new lines (empty list deletes it)."""
    out: list[str] = []
    for i, line in enumerate(base):
        if i in plan:
            out += [f"{tag} {i}.{k}" for k in range(len(plan[i]))]
        else:
            out.append(line)
    return out


def apply_both(
    base: list[str], ours: dict[int, list[str]], theirs: dict[int, list[str]]
) -> list[str]:
    """Base with the draft's and the current side's planned lines both replaced."""
    out: list[str] = []
    for i, line in enumerate(base):
        if i in ours:
            out += [f"draft {i}.{k}" for k in range(len(ours[i]))]
        elif i in theirs:
            out += [f"current {i}.{k}" for k in range(len(theirs[i]))]
        else:
            out.append(line)
    return out


def text(lines: list[str]) -> str:
    return normalize_text("\n".join(lines))


class TestContentHashProperties:
    @FAST
    @given(texts, st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.sampled_from([" ", "\t"])))
    def test_stable_under_line_endings_and_trailing_whitespace(
        self, body: str, newline: str, trailing: list[str]
    ) -> None:
        """Any line-ending style and trailing blanks hash the same as the plain text."""
        pad = "".join(trailing)
        variant = newline.join(line + pad for line in body.split("\n")) + newline
        assert content_hash(variant) == content_hash(body)

    @FAST
    @given(texts)
    def test_normalizing_is_idempotent(self, body: str) -> None:
        """Normalizing twice changes nothing: stored texts hash to their own hash."""
        assert normalize_text(normalize_text(body)) == normalize_text(body)


class TestRebaseProperties:
    @FAST
    @given(documents().flatmap(lambda b: st.tuples(st.just(b), edit_plan(len(b)))))
    def test_onto_unchanged_base_returns_the_draft(
        self, case: tuple[list[str], dict[int, list[str]]]
    ) -> None:
        """Nothing published since the draft's base: the rebase is the draft."""
        base, plan = case
        draft = text(apply(base, plan, "draft"))
        assert rebase(draft, text(base), text(base)) == Rebased(text=draft)

    @FAST
    @given(documents().flatmap(lambda b: st.tuples(st.just(b), edit_plan(len(b)))))
    def test_unchanged_draft_takes_the_current_text(
        self, case: tuple[list[str], dict[int, list[str]]]
    ) -> None:
        """A draft equal to its base rebases to whatever was published since."""
        base, plan = case
        current = text(apply(base, plan, "current"))
        assert rebase(text(base), text(base), current) == Rebased(text=current)

    @FAST
    @given(documents(), st.data())
    def test_disjoint_edits_merge_and_contain_both(
        self, base: list[str], data: st.DataObject
    ) -> None:
        """Edits at least one unchanged line apart merge into exactly both sides' changes."""
        ours = data.draw(edit_plan(len(base)))
        # The other side edits only lines not touching ours (one unchanged line in between).
        free = [i for i in range(len(base)) if all(abs(i - j) > 1 for j in ours)]
        chosen = data.draw(st.sets(st.sampled_from(free), max_size=6)) if free else set()
        theirs = {i: data.draw(st.lists(st.just("x"), max_size=3)) for i in chosen}
        result = rebase(
            text(apply(base, ours, "draft")), text(base), text(apply(base, theirs, "current"))
        )
        expected = apply_both(base, ours, theirs)
        assert result == Rebased(text=text(expected))
        assert all(f"draft {i}.0" in result.text for i in ours if ours[i])
        assert all(f"current {i}.0" in result.text for i in theirs if theirs[i])

    @FAST
    @given(documents(), st.data())
    def test_overlapping_edits_conflict(self, base: list[str], data: st.DataObject) -> None:
        """Both sides rewrite the same line differently: always a Conflict, never a pick."""
        i = data.draw(st.integers(0, len(base) - 1))
        ours = apply(base, {i: ["x"]}, "draft")
        theirs = apply(base, {i: data.draw(st.lists(st.just("x"), max_size=2))}, "current")
        result = rebase(text(ours), text(base), text(theirs))
        assert isinstance(result, Conflict)
        assert any(h.base_start <= i + 1 < h.base_start + max(len(h.base), 1) for h in result.hunks)

    @FAST
    @given(documents(), st.data())
    def test_merge_is_symmetric(self, base: list[str], data: st.DataObject) -> None:
        """Swapping draft and current gives the same verdict, and the same text when clean."""
        ours = apply(base, data.draw(edit_plan(len(base))), "draft")
        theirs = apply(base, data.draw(edit_plan(len(base))), "current")
        one = rebase(text(ours), text(base), text(theirs))
        other = rebase(text(theirs), text(base), text(ours))
        assert type(one) is type(other)
        if isinstance(one, Rebased) and isinstance(other, Rebased):
            assert one.text == other.text
