"""Ranking precedents and saying plainly what is missing (domain.precedents)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.precedents import (
    PassageCandidate,
    RequestCandidate,
    RequestQuery,
    clip_passage,
    named_sops,
    precedents_for,
    rank_passages,
    rank_requests,
    search_terms,
)

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
QUERY = RequestQuery(
    key="MODREQ-9",
    request_type="listing_policy_change",
    domain="product_listing",
    market="MY",
    text="Vape pods from licensed retailers",
    affected_sops=("SOP-LST-001",),
)


def candidate(key: str, score: float, **changes: object) -> RequestCandidate:
    values: dict[str, object] = {
        "key": key,
        "summary": f"summary of {key}",
        "request_type": "listing_policy_change",
        "domain": "product_listing",
        "market": "MY",
        "outcome": "DONE",
        "sop_versions": (),
        "decided_at": date(2026, 3, 1),
        "score": score,
    }
    return RequestCandidate.model_validate({**values, **changes})


def passage(sop: str, number: str, score: float, **changes: object) -> PassageCandidate:
    values: dict[str, object] = {
        "sop_id": sop,
        "version": 2,
        "number": number,
        "heading": "Decision table",
        "text": "A passage long enough to be worth quoting to an expert.",
        "domain": "product_listing",
        "markets": ("MY", "SG"),
        "score": score,
    }
    return PassageCandidate.model_validate({**values, **changes})


class TestSearchTerms:
    def test_drops_stopwords_short_words_and_numbers(self) -> None:
        """Only words that say something are searched, each once, longest first."""
        terms = search_terms("The vape is a vape for 2026 and the e-cigarette retailers")
        assert terms == ["e-cigarette", "retailers", "vape"]

    def test_at_most_the_limit(self) -> None:
        """A long description cannot make the query long."""
        text = " ".join(f"word{n}x" for n in range(100))
        assert len(search_terms(text, limit=5)) == 5


class TestNamedSops:
    def test_finds_ids_in_free_text(self) -> None:
        """The affected-SOP field is free text; its SOP ids are read out of it."""
        assert named_sops("sop-lst-001 Prohibited items, SOP-MOB-001") == (
            "SOP-LST-001",
            "SOP-MOB-001",
        )


class TestRankRequests:
    def test_metadata_lifts_a_weaker_text_match(self) -> None:
        """Same domain and market outrank a slightly better text match from elsewhere."""
        far = candidate("MODREQ-1", 10.0, domain="content", market="VN")
        near = candidate("MODREQ-2", 8.0)
        assert [c.key for c in rank_requests(QUERY, [far, near])] == ["MODREQ-2", "MODREQ-1"]

    def test_the_named_sop_counts(self) -> None:
        """A precedent that produced a version of the SOP the requester names comes first."""
        other = candidate("MODREQ-1", 10.0)
        same_sop = candidate("MODREQ-2", 8.0, sop_versions=("SOP-LST-001 v3",))
        assert rank_requests(QUERY, [other, same_sop])[0].key == "MODREQ-2"

    def test_never_the_request_itself(self) -> None:
        """A request re-routed after a fix does not find itself."""
        assert rank_requests(QUERY, [candidate("MODREQ-9", 99.0)]) == []


class TestRankPassages:
    def test_named_sop_first_and_empty_sections_left_out(self) -> None:
        """Passages of the named SOP come first; a heading without text is never quoted."""
        other = passage("SOP-LST-002", "3.1", 10.0)
        named = passage("SOP-LST-001", "5", 8.0)
        empty = passage("SOP-LST-001", "4", 20.0, text="")
        ranked = rank_passages(QUERY, [other, named, empty])
        assert [(p.sop_id, p.number) for p in ranked] == [
            ("SOP-LST-001", "5"),
            ("SOP-LST-002", "3.1"),
        ]


class TestPrecedentsFor:
    def test_no_history_yet(self) -> None:
        """An empty ledger says so instead of showing an empty list."""
        found = precedents_for(
            QUERY,
            [],
            [passage("SOP-LST-001", "5", 1.0)],
            history=False,
            market_seen=False,
            sections_by_sop={"SOP-LST-001": 12},
            now=NOW,
        )
        assert found.requests == ()
        assert found.notes == (
            "No history yet: no request has been decided, so there is nothing to compare.",
        )

    def test_market_never_seen(self) -> None:
        """Precedents from other markets are shown, saying the market is new."""
        found = precedents_for(
            QUERY,
            [candidate("MODREQ-1", 3.0, market="SG")],
            [passage("SOP-LST-001", "5", 1.0)],
            history=True,
            market_seen=False,
            sections_by_sop={"SOP-LST-001": 12},
            now=NOW,
        )
        assert [r.key for r in found.requests] == ["MODREQ-1"]
        assert found.notes == (
            "Market MY never seen: no request from MY has been decided yet, so these come "
            "from other markets.",
        )

    def test_sop_without_sections_and_unknown_sop(self) -> None:
        """An SOP that cannot be quoted is named, with why."""
        query = QUERY.model_copy(update={"affected_sops": ("SOP-LST-001", "SOP-NEW-009")})
        found = precedents_for(
            query,
            [candidate("MODREQ-1", 3.0)],
            [],
            history=True,
            market_seen=True,
            sections_by_sop={"SOP-LST-001": 0},
            now=NOW,
        )
        assert found.notes == (
            "SOP-LST-001 has no numbered sections, so no passage of it can be quoted.",
            "SOP-NEW-009 is not in the SOP registry, so no passage of it can be quoted.",
            "No SOP passage reads like this request.",
        )

    def test_passages_are_clipped(self) -> None:
        """A long section is cut at a word for the card."""
        long = passage("SOP-LST-001", "5", 1.0, text="word " * 400)
        found = precedents_for(
            QUERY,
            [],
            [long],
            history=False,
            market_seen=False,
            sections_by_sop={"SOP-LST-001": 1},
            now=NOW,
        )
        assert len(found.passages[0].text) <= 600
        assert found.passages[0].text.endswith("…")


def test_clip_keeps_short_text() -> None:
    """Text within the limit is only whitespace-folded."""
    assert clip_passage("a  b\nc") == "a b c"
