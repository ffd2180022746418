"""Precedents for an expert: the decided requests and SOP passages most like a new request.

Pure: the ledger's full-text search (`integrations.db.search`) finds candidates by their
words; this module turns a request into search terms, ranks the candidates with what the
words cannot see (same domain, market, request type, the SOP the requester names), and says
plainly when there is nothing to show and why.

Choices:
- Terms are OR-ed, not AND-ed: a requester's wording rarely repeats every word of an older
  ticket, and ranking does the rest. At most MAX_TERMS distinct terms, longest first, so a
  long description cannot make the query slow.
- A candidate's text score is scaled by the best one of the same search, so the metadata
  bonuses weigh the same whatever the absolute scores of the backend (bm25 in SQLite, ts_rank
  in PostgreSQL) are.
- Bonuses were set on the evaluation set in bench/data (recall@3 and MRR in
  docs/benchmarks.md): the domain counts most, then the SOP the requester names. The same
  market is only a tie-breaker and the request type not at all: on the set, larger weights
  for either lowered recall, since an expert's precedent is as often from another market or
  filed as another type (a QA dispute that led to a policy change).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

MAX_TERMS = 24
# How many candidates the full-text search hands to the ranking, per kind.
CANDIDATES = 40
SHOWN_REQUESTS = 3
SHOWN_PASSAGES = 3
# A passage as a card shows it (Slack sections hold 3000 characters; three share one).
PASSAGE_CHARS = 600

SAME_DOMAIN = 0.5
SAME_MARKET = 0.02
NAMED_SOP = 0.3
# A passage quoted from a section that only holds a heading or a sentence helps no one.
MIN_PASSAGE_CHARS = 40

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SOP_ID = re.compile(r"\bSOP-[A-Z]{2,6}-\d{3,}\b")
_STOPWORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours per via new get got make made want wants need needs please
    should must may might shall us let lets within without like one two three
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

Outcome = Literal["DONE", "REJECTED", "CANCELLED"]
OUTCOME_WORDS: dict[str, str] = {
    "DONE": "done",
    "REJECTED": "rejected",
    "CANCELLED": "cancelled",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestQuery(_Frozen):
    """What a new request says, as far as finding its precedents goes."""

    key: str
    request_type: str
    domain: str
    market: str
    text: str
    affected_sops: tuple[str, ...] = ()


class RequestCandidate(_Frozen):
    """A decided request the full-text search found, with its raw text score (higher: better)."""

    key: str
    summary: str
    request_type: str
    domain: str
    market: str
    outcome: Outcome
    sop_versions: tuple[str, ...] = ()
    decided_at: date
    score: float


class PassageCandidate(_Frozen):
    """A numbered SOP section the full-text search found, with its raw text score."""

    sop_id: str
    version: int
    number: str
    heading: str
    text: str
    domain: str
    markets: tuple[str, ...]
    score: float


class PastRequest(_Frozen):
    """A precedent as the expert sees it: the request, how it ended and what it produced."""

    key: str
    summary: str
    market: str
    outcome: Outcome
    sop_versions: tuple[str, ...] = ()
    decided_at: date


class Passage(_Frozen):
    """An SOP passage as the expert sees it: where it is and what it says (clipped)."""

    sop_id: str
    version: int
    number: str
    heading: str
    text: str


class Precedents(_Frozen):
    """What govflow found for one request when it was routed, and what it could not find."""

    computed_at: datetime
    requests: tuple[PastRequest, ...] = ()
    passages: tuple[Passage, ...] = ()
    notes: tuple[str, ...] = ()


def search_terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """The distinct words of `text` worth searching for, longest first, at most `limit`."""
    words = _WORD.findall(text.lower())
    kept = dict.fromkeys(w for w in words if len(w) > 2 and w not in STOPWORDS and not w.isdigit())
    # Longer words are rarer and say more; ties keep the order they were written in.
    ranked = sorted(kept, key=lambda w: -len(w))
    return ranked[:limit]


def named_sops(text: str) -> tuple[str, ...]:
    """The SOP ids written in `text` ("SOP-LST-001 Prohibited items"), in order, once each."""
    return tuple(dict.fromkeys(_SOP_ID.findall(text.upper())))


def rank_requests(
    query: RequestQuery, candidates: Iterable[RequestCandidate], limit: int = SHOWN_REQUESTS
) -> list[RequestCandidate]:
    """The candidates most like the request: text score scaled to the best, plus metadata."""
    pool = [c for c in candidates if c.key != query.key]
    best = max((c.score for c in pool), default=0.0) or 1.0
    named = set(query.affected_sops)

    def score(c: RequestCandidate) -> float:
        produced = {v.split(" ")[0] for v in c.sop_versions}
        return (
            c.score / best
            + SAME_DOMAIN * (c.domain == query.domain)
            + SAME_MARKET * (c.market == query.market)
            + NAMED_SOP * bool(named & produced)
        )

    return sorted(pool, key=lambda c: (-score(c), c.key))[:limit]


def rank_passages(
    query: RequestQuery, candidates: Iterable[PassageCandidate], limit: int = SHOWN_PASSAGES
) -> list[PassageCandidate]:
    """The SOP passages most related to the request: text score, named SOP, domain, market."""
    pool = [c for c in candidates if len(c.text.strip()) >= MIN_PASSAGE_CHARS]
    best = max((c.score for c in pool), default=0.0) or 1.0
    named = set(query.affected_sops)

    def score(c: PassageCandidate) -> float:
        return (
            c.score / best
            + NAMED_SOP * (c.sop_id in named)
            + SAME_DOMAIN * (c.domain == query.domain)
            + SAME_MARKET * (query.market in c.markets)
        )

    return sorted(pool, key=lambda c: (-score(c), c.sop_id, c.number))[:limit]


def precedents_for(
    query: RequestQuery,
    requests: Sequence[RequestCandidate],
    passages: Sequence[PassageCandidate],
    *,
    history: bool,
    market_seen: bool,
    sections_by_sop: dict[str, int],
    now: datetime,
) -> Precedents:
    """The precedents to keep with the request, with plain notes for what is missing.

    `history` is whether the ledger holds any decided request, `market_seen` whether any
    of them is from the request's market, `sections_by_sop` the number of
    numbered sections of each SOP the request names (absent: not in the registry).
    """
    shown = rank_requests(query, requests)
    quoted = rank_passages(query, passages)
    notes: list[str] = []
    if not history:
        notes.append("No history yet: no request has been decided, so there is nothing to compare.")
    elif not shown:
        notes.append("No decided request reads like this one.")
    if history and not market_seen:
        notes.append(
            f"Market {query.market} never seen: no request from {query.market} has been "
            "decided yet, so these come from other markets."
        )
    for sop in query.affected_sops:
        count = sections_by_sop.get(sop)
        if count is None:
            notes.append(f"{sop} is not in the SOP registry, so no passage of it can be quoted.")
        elif count == 0:
            notes.append(f"{sop} has no numbered sections, so no passage of it can be quoted.")
    if not quoted:
        notes.append("No SOP passage reads like this request.")
    return Precedents(
        computed_at=now,
        requests=tuple(
            PastRequest(
                key=c.key,
                summary=c.summary,
                market=c.market,
                outcome=c.outcome,
                sop_versions=c.sop_versions,
                decided_at=c.decided_at,
            )
            for c in shown
        ),
        passages=tuple(
            Passage(
                sop_id=c.sop_id,
                version=c.version,
                number=c.number,
                heading=c.heading,
                text=clip_passage(c.text),
            )
            for c in quoted
        ),
        notes=tuple(notes),
    )


def clip_passage(text: str, limit: int = PASSAGE_CHARS) -> str:
    """`text` cut at a word boundary to at most `limit` characters, marked when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
