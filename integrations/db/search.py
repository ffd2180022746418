"""Full-text search over decided requests and SOP sections: SQLite FTS5, PostgreSQL tsvector.

One table, `precedent_documents` (migration 0009), holds what can be a precedent: a decided
request (`kind` "request", `ref` its Jira key) or a numbered section of an SOP's latest
version (`kind` "sop_section", `ref` "SOP-ID#number"). SQLite indexes it in FTS5 tables
through triggers, `precedent_fts` for requests and `precedent_section_fts` for sections
(migration 0011); PostgreSQL in a generated `search` tsvector column with a
GIN index. Terms are OR-ed (see `domain.precedents`); each backend's own relevance (bm25,
ts_rank, length-normalised for requests) is the raw score, higher is better. Nothing here
commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.precedents import Outcome, PassageCandidate, RequestCandidate
from domain.sop_sections import numbered_sections
from integrations.db.types import UtcDateTime

REQUEST = "request"
SOP_SECTION = "sop_section"
_TERM = re.compile(r"^[a-z0-9]+$")

# Its own metadata: the table's search index is backend-specific DDL that only the migration
# creates, so nothing must ever `create_all` it.
_metadata = MetaData()
documents = Table(
    "precedent_documents",
    _metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("request_type", String(64)),
    Column("domain", String(64)),
    Column("market", String(16)),
    Column("markets", JSON, nullable=False),
    Column("outcome", String(16)),
    Column("produced", JSON, nullable=False),
    Column("decided_at", Date),
    Column("sop_id", String(32)),
    Column("sop_version", Integer),
    Column("section", String(32)),
    Column("indexed_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class DecidedRequest:
    """A decided request as the index keeps it."""

    key: str
    summary: str
    text: str
    request_type: str
    domain: str
    market: str
    outcome: Outcome
    produced: tuple[str, ...]
    decided_at: date


def index_request(session: Session, request: DecidedRequest, now: datetime) -> None:
    """Add the decided request to the index, or bring its entry up to date."""
    values: dict[str, Any] = {
        "title": request.summary,
        "body": request.text,
        "request_type": request.request_type,
        "domain": request.domain,
        "market": request.market,
        "markets": [request.market],
        "outcome": request.outcome,
        "produced": list(request.produced),
        "decided_at": request.decided_at,
        "indexed_at": now,
    }
    # An upsert: two routings catching up the same request at once must not collide.
    statement = (
        _insert(session)(documents)
        .values(kind=REQUEST, ref=request.key, **values)
        .on_conflict_do_update(index_elements=["kind", "ref"], set_=values)
    )
    session.execute(statement)


def index_sop(
    session: Session,
    *,
    sop_id: str,
    version: int,
    text: str,
    domain: str,
    markets: Sequence[str],
    now: datetime,
) -> int:
    """Index the numbered sections of `version` in place of the SOP's older ones; how many.

    An older version than the one indexed changes nothing, so replays and late runs are safe.
    """
    indexed = session.execute(
        select(func.max(documents.c.sop_version)).where(
            documents.c.kind == SOP_SECTION, documents.c.sop_id == sop_id
        )
    ).scalar()
    if indexed is not None and indexed >= version:
        return 0
    session.execute(
        delete(documents).where(documents.c.kind == SOP_SECTION, documents.c.sop_id == sop_id)
    )
    rows = [
        {
            "kind": SOP_SECTION,
            "ref": f"{sop_id}#{number}",
            "title": heading,
            "body": body,
            "domain": domain,
            "markets": list(markets),
            "produced": [],
            "sop_id": sop_id,
            "sop_version": version,
            "section": number,
            "indexed_at": now,
        }
        for number, heading, body in numbered_sections(text)
    ]
    if rows:
        # A concurrent catch-up of the same version may have inserted them already.
        insert = _insert(session)(documents).on_conflict_do_nothing(index_elements=["kind", "ref"])
        session.execute(insert, rows)
    return len(rows)


def search_requests(
    session: Session, terms: Sequence[str], limit: int, *, domain: str | None = None
) -> list[RequestCandidate]:
    """Decided requests matching any of `terms` (of `domain`, if given), best first."""
    rows = _search(session, REQUEST, terms, limit, domain=domain)
    return [
        RequestCandidate(
            key=row["ref"],
            summary=row["title"],
            request_type=row["request_type"] or "",
            domain=row["domain"] or "",
            market=row["market"] or "",
            outcome=cast(Outcome, row["outcome"]),
            sop_versions=tuple(row["produced"] or ()),
            decided_at=_as_date(row["decided_at"]),
            score=float(row["score"]),
        )
        for row in rows
    ]


def search_passages(session: Session, terms: Sequence[str], limit: int) -> list[PassageCandidate]:
    """SOP sections matching any of `terms`, best first, with the backend's score."""
    rows = _search(session, SOP_SECTION, terms, limit)
    return [
        PassageCandidate(
            sop_id=row["sop_id"],
            version=int(row["sop_version"]),
            number=row["section"],
            heading=row["title"],
            text=row["body"],
            domain=row["domain"] or "",
            markets=tuple(row["markets"] or ()),
            score=float(row["score"]),
        )
        for row in rows
    ]


def decided_count(session: Session) -> int:
    """How many decided requests the index holds."""
    query = select(func.count()).select_from(documents).where(documents.c.kind == REQUEST)
    return int(session.execute(query).scalar() or 0)


def any_decided(session: Session) -> bool:
    """Whether the index holds any decided request (one row looked up, not all counted)."""
    query = select(documents.c.id).where(documents.c.kind == REQUEST).limit(1)
    return session.execute(query).first() is not None


def market_seen(session: Session, market: str) -> bool:
    """Whether any decided request of `market` is indexed."""
    query = select(documents.c.id).where(documents.c.kind == REQUEST, documents.c.market == market)
    return session.execute(query.limit(1)).first() is not None


def section_counts(session: Session, sop_ids: Iterable[str]) -> dict[str, int]:
    """How many sections of each SOP are indexed (SOPs with none are left out)."""
    query = (
        select(documents.c.sop_id, func.count())
        .where(documents.c.kind == SOP_SECTION, documents.c.sop_id.in_(list(sop_ids)))
        .group_by(documents.c.sop_id)
    )
    return {str(sop): int(n) for sop, n in session.execute(query)}


def _search(
    session: Session, kind: str, terms: Sequence[str], limit: int, *, domain: str | None = None
) -> list[Any]:
    # Terms come from `domain.precedents.search_terms` (lowercase letters and digits); any
    # other shape is dropped rather than quoted, so no input can reach the query syntax.
    clean = [t.replace("'", "") for t in terms]
    clean = [t for t in clean if _TERM.match(t)]
    if not clean or limit < 1:
        return []
    # Every column as the table above declares it: not PostgreSQL's `search` tsvector, which
    # would come back as text for nothing.
    if session.get_bind().dialect.name == "postgresql":
        # A request's score is divided by its length (normalisation 2): ts_rank has no
        # inverse document frequency, so without it long tickets that repeat common words
        # ("listing", "seller") outrank the short one that says the same thing. SOP sections
        # are not: the long ones are the substantive ones (both measured, docs/benchmarks.md).
        statement = text(
            "SELECT d.id, d.kind, d.ref, d.title, d.body, d.request_type, d.domain, d.market, "
            "d.markets, d.outcome, d.produced, d.decided_at, d.sop_id, d.sop_version, d.section, "
            "ts_rank(d.search, q, :normalisation) AS score "
            "FROM precedent_documents d, to_tsquery('english', :query) q "
            "WHERE d.kind = :kind AND d.search @@ q AND (:domain = '' OR d.domain = :domain) "
            "ORDER BY score DESC, d.id LIMIT :limit"
        )
        query = " | ".join(clean)
    elif kind == REQUEST:
        # bm25() is lower for better matches; the title counts twice the body and the domain
        # not at all: it is matched inside FTS5 (migration 0011), so that bm25 is computed
        # for the requests of that domain only, not for every request sharing a word.
        statement = text(
            "SELECT d.id, d.kind, d.ref, d.title, d.body, d.request_type, d.domain, d.market, "
            "d.markets, d.outcome, d.produced, d.decided_at, d.sop_id, d.sop_version, d.section, "
            "-bm25(precedent_fts, 2.0, 1.0, 0.0) AS score "
            "FROM precedent_fts JOIN precedent_documents d ON d.id = precedent_fts.rowid "
            "WHERE precedent_fts MATCH :query AND d.kind = :kind "
            "AND (:domain = '' OR d.domain = :domain) "
            "ORDER BY score DESC, d.id LIMIT :limit"
        )
        # The words are looked for in the title and body only, never in the domain.
        query = "{title body} : (" + " OR ".join(f'"{t}"' for t in clean) + ")"
        if domain:
            quoted = domain.replace('"', '""')
            query = f'domain : "{quoted}" AND {query}'
    else:
        # SOP sections have their own FTS5 index (migration 0011): a search of them does not
        # walk the requests' posting lists.
        statement = text(
            "SELECT d.id, d.kind, d.ref, d.title, d.body, d.request_type, d.domain, d.market, "
            "d.markets, d.outcome, d.produced, d.decided_at, d.sop_id, d.sop_version, d.section, "
            "-bm25(precedent_section_fts, 2.0, 1.0) AS score "
            "FROM precedent_section_fts "
            "JOIN precedent_documents d ON d.id = precedent_section_fts.rowid "
            "WHERE precedent_section_fts MATCH :query AND d.kind = :kind "
            "AND (:domain = '' OR d.domain = :domain) "
            "ORDER BY score DESC, d.id LIMIT :limit"
        )
        query = " OR ".join(f'"{t}"' for t in clean)
    # Ranking happens after the filter, so a domain leaves the backend less to score.
    params = {
        "query": query,
        "kind": kind,
        "limit": limit,
        "domain": domain or "",
        "normalisation": 2 if kind == REQUEST else 0,
    }
    result = session.execute(statement, params)
    return [_decoded(row._mapping) for row in result]


def _insert(session: Session) -> Any:
    """The backend's INSERT, which knows ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _decoded(row: Any) -> dict[str, Any]:
    """A result row as a dict, JSON columns decoded (raw SQL returns SQLite's JSON as text)."""
    import json

    out = dict(row)
    for column in ("markets", "produced"):
        if isinstance(out.get(column), str):
            out[column] = json.loads(out[column])
    return out


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
