"""Precedent retrieval: recall@3 and MRR on the evaluation set, and latency at 10,000 requests.

python -m bench precedents            # both ledgers, 10,000 distractor requests
python -m bench --quick precedents    # SQLite and PostgreSQL, 1,000 distractors

The evaluation set is bench/data/precedents_past.yaml (decided requests) and
bench/data/precedents_queries.yaml (new requests, each with the past requests and SOP
sections an expert would call relevant); the SOP passages are the numbered sections of the
shipped SOPs in config/sops. For each ledger backend it indexes them through the product's
own code (`integrations.db.search`), then ranks:
- `fts`: the backend's full-text score alone (SQLite FTS5 bm25, PostgreSQL ts_rank);
- `fts+rules`: what routing does (`govflow.precedents`): requests of the same domain only,
  ranked by that score plus what govflow knows of both requests (`domain.precedents`: same
  market, the SOP the requester names; SOP passages also by domain).
recall@3 is the share of a query's relevant items found in the first three (every query has
at most three), MRR the mean of 1/rank of the first relevant item in the first ten; both
also on the even and the odd queries apart, so that a change helping one half only shows.
Then it adds distractor requests (made of the set's own words, so they match as much as
real tickets would), ranks again, and times `govflow.precedents.find_precedents`, what
routing calls: wall p50/p95 over every query three times, and the p95 of this thread's CPU
time (all of SQLite's cost; only the client's share on PostgreSQL), which a busy machine
inflates far less than wall time, beside a `SELECT 1` transaction timed between the calls
and the ratio of the two (the machine's load changes from run to run; the ratio less).
The embedding comparison lives in bench/precedents_embedding.py (it needs a model package).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("data")
SOPS = Path(__file__).parent.parent / "config" / "sops"
K = 3
MRR_DEPTH = 10
DETAILS: dict[str, Any] = {}


@dataclass(frozen=True)
class Sop:
    """A shipped SOP: id, domain, markets and markdown body."""

    sop_id: str
    domain: str
    markets: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class EvalSet:
    """The evaluation set as loaded from bench/data and config/sops."""

    past: list[dict[str, Any]]
    queries: list[dict[str, Any]]
    sops: list[Sop]


def load_set() -> EvalSet:
    """Read the evaluation set."""
    past = yaml.safe_load((DATA / "precedents_past.yaml").read_text())["past"]
    queries = yaml.safe_load((DATA / "precedents_queries.yaml").read_text())["queries"]
    sops = []
    for path in sorted(SOPS.glob("SOP-*.md")):
        _, front, body = path.read_text().split("---", 2)
        meta = yaml.safe_load(front)
        sops.append(Sop(meta["id"], meta["domain"], tuple(meta["markets"]), body))
    return EvalSet(past, queries, sops)


def query_text(query: dict[str, Any]) -> str:
    """The words of a query request: summary and description, as routing reads them."""
    return f"{query['summary']}\n{query['description']}"


def scores(
    ranked: Sequence[Sequence[str]], relevant: Sequence[Sequence[str]]
) -> tuple[float, float]:
    """recall@K and MRR over queries: `ranked` ids best first, `relevant` ids per query."""
    recalls, reciprocal = [], []
    for found, wanted in zip(ranked, relevant, strict=True):
        want = set(wanted)
        recalls.append(len(want & set(found[:K])) / min(len(want), K))
        rank = next((i for i, ref in enumerate(found[:MRR_DEPTH], 1) if ref in want), None)
        reciprocal.append(1 / rank if rank else 0.0)
    return statistics.fmean(recalls), statistics.fmean(reciprocal)


def run(quick: bool = False) -> list[dict[str, object]]:
    """Figures per backend and method, then latency; DETAILS holds every query's ranking."""
    data = load_set()
    distractors = 1_000 if quick else 10_000
    rows: list[dict[str, object]] = []
    for backend, ledger in (("sqlite", _sqlite_ledger), ("postgres", _postgres_ledger)):
        with ledger() as engine:
            rows += _evaluate(backend, engine, data, distractors)
    return rows


def _evaluate(
    backend: str, engine: Any, data: EvalSet, distractors: int
) -> list[dict[str, object]]:
    from sqlalchemy.orm import Session

    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        _index_set(session, data, now)
    rows = []
    with Session(engine) as session:
        for method, rank in _methods(session).items():
            rows.append(_accuracy_row(backend, method, rank, data, extra=0))
    with Session(engine) as session, session.begin():
        _index_distractors(session, data, distractors, now)
    with Session(engine) as session:
        for method, rank in _methods(session).items():
            rows.append(_accuracy_row(backend, method, rank, data, extra=distractors))
    with Session(engine) as session:
        rows.append(_latency_row(backend, session, data, distractors))
    return rows


Ranker = Callable[[dict[str, Any]], tuple[list[str], list[str]]]


def _methods(session: Any) -> dict[str, Ranker]:
    from domain.precedents import (
        CANDIDATES,
        RequestQuery,
        named_sops,
        rank_passages,
        rank_requests,
        search_terms,
    )
    from integrations.db.search import search_passages, search_requests

    def query_of(q: dict[str, Any]) -> RequestQuery:
        return RequestQuery(
            key=q["id"],
            request_type=q["request_type"],
            domain=q["domain"],
            market=q["market"],
            text=query_text(q),
            affected_sops=named_sops(q.get("affected_sop") or ""),
        )

    def fts(q: dict[str, Any]) -> tuple[list[str], list[str]]:
        terms = search_terms(query_text(q))
        found = search_requests(session, terms, MRR_DEPTH)
        passages = search_passages(session, terms, MRR_DEPTH)
        return [c.key for c in found], [f"{p.sop_id}#{p.number}" for p in passages]

    def ruled(q: dict[str, Any]) -> tuple[list[str], list[str]]:
        query = query_of(q)
        terms = search_terms(query.text)
        candidates = search_requests(session, terms, CANDIDATES, domain=query.domain)
        found = rank_requests(query, candidates, MRR_DEPTH)
        passages = rank_passages(query, search_passages(session, terms, CANDIDATES), MRR_DEPTH)
        return [c.key for c in found], [f"{p.sop_id}#{p.number}" for p in passages]

    return {"fts": fts, "fts+rules": ruled}


def _accuracy_row(
    backend: str, method: str, rank: Ranker, data: EvalSet, *, extra: int
) -> dict[str, object]:
    results = [rank(q) for q in data.queries]
    request_recall, request_mrr = scores(
        [r for r, _ in results], [q["requests"] for q in data.queries]
    )
    section_recall, section_mrr = scores(
        [s for _, s in results], [q["sections"] for q in data.queries]
    )
    DETAILS[f"{backend}:{method}:{extra}"] = {
        q["id"]: {"requests": r[:K], "sections": s[:K]}
        for q, (r, s) in zip(data.queries, results, strict=True)
    }
    # The same figures on the even and the odd queries: a change that helps one half only
    # fits the set rather than the task.
    halves = {}
    for name, start in (("even", 0), ("odd", 1)):
        picked = [(q, r) for q, r in list(zip(data.queries, results, strict=True))[start::2]]
        req = scores([r for _, (r, _) in picked], [q["requests"] for q, _ in picked])
        sec = scores([s for _, (_, s) in picked], [q["sections"] for q, _ in picked])
        halves[name] = f"{req[0]:.3f}/{req[1]:.3f} {sec[0]:.3f}/{sec[1]:.3f}"
    return {
        "backend": backend,
        "method": method,
        "distractors": extra,
        "queries": len(data.queries),
        "requests_recall@3": f"{request_recall:.3f}",
        "requests_mrr": f"{request_mrr:.3f}",
        "sections_recall@3": f"{section_recall:.3f}",
        "sections_mrr": f"{section_mrr:.3f}",
        "even r@3/mrr req sec": halves["even"],
        "odd r@3/mrr req sec": halves["odd"],
    }


def _latency_row(backend: str, session: Any, data: EvalSet, distractors: int) -> dict[str, object]:
    from sqlalchemy import text

    from domain.precedents import RequestQuery, named_sops
    from govflow.precedents import find_precedents

    now = datetime.now(UTC)
    timings: list[float] = []
    # This thread's CPU time: on a machine shared with other work, wall time measures the
    # queue for the CPU as much as the search. SQLite runs in this thread, so its CPU time
    # is the whole cost; PostgreSQL's server CPU is not in it.
    cpu_times: list[float] = []
    # A trivial query in its own transaction, timed between the searches: what the machine
    # and the database's round trip cost at that moment, so runs on a busy machine compare
    # by their ratio to it.
    baseline: list[float] = []
    load = os.getloadavg()[0]
    for _ in range(3):
        for q in data.queries:
            query = RequestQuery(
                key=q["id"],
                request_type=q["request_type"],
                domain=q["domain"],
                market=q["market"],
                text=query_text(q),
                affected_sops=named_sops(q.get("affected_sop") or ""),
            )
            start = time.perf_counter()
            with session.begin():
                session.execute(text("SELECT 1")).all()
            baseline.append((time.perf_counter() - start) * 1000)
            start, cpu = time.perf_counter(), time.thread_time()
            with session.begin():
                find_precedents(session, query, now)
            timings.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.thread_time() - cpu) * 1000)
    p50, p95 = _percentile(timings, 0.5), _percentile(timings, 0.95)
    base50, base95 = _percentile(baseline, 0.5), _percentile(baseline, 0.95)
    return {
        "backend": backend,
        "method": "find_precedents latency",
        "distractors": distractors,
        "queries": len(timings),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(timings), 1),
        "cpu_p95_ms": round(_percentile(cpu_times, 0.95), 1),
        "select1_p50_ms": round(base50, 2),
        "select1_p95_ms": round(base95, 2),
        "p50/select1": round(p50 / base50, 1),
        "p95/select1": round(p95 / base95, 1),
        "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
    }


def _percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


def _index_set(session: Any, data: EvalSet, now: datetime) -> None:
    from integrations.db.search import index_request, index_sop

    for sop in data.sops:
        index_sop(
            session,
            sop_id=sop.sop_id,
            version=1,
            text=sop.text,
            domain=sop.domain,
            markets=sop.markets,
            now=now,
        )
    for p in data.past:
        index_request(session, _decided(p), now)


def _decided(p: dict[str, Any]) -> Any:
    from integrations.db.search import DecidedRequest

    produced = (p["sop_version"],) if p.get("sop_version") else ()
    return DecidedRequest(
        key=p["key"],
        summary=p["summary"],
        text=p["description"],
        request_type=p["request_type"],
        domain=p["domain"],
        market=p["market"],
        outcome=p["outcome"],
        produced=produced,
        decided_at=date.fromisoformat(str(p["decided"])),
    )


def _index_distractors(session: Any, data: EvalSet, count: int, now: datetime) -> None:
    """`count` decided requests made of the set's own words, in random order and mixes."""
    from integrations.db.search import documents

    rng = random.Random(15)
    words = [w for p in data.past for w in f"{p['summary']} {p['description']}".split()]
    rows = []
    for n in range(count):
        template = rng.choice(data.past)
        rows.append(
            {
                "kind": "request",
                "ref": f"NOISE-{n + 1}",
                "title": " ".join(rng.choices(words, k=10)),
                "body": " ".join(rng.choices(words, k=45)),
                "request_type": template["request_type"],
                "domain": template["domain"],
                "market": rng.choice(["MY", "SG", "ID", "TH", "PH", "VN"]),
                "markets": [],
                "outcome": rng.choice(["DONE", "REJECTED", "CANCELLED"]),
                "produced": [],
                "decided_at": date(2025, 1, 1),
                "indexed_at": now,
            }
        )
    for start in range(0, len(rows), 1000):
        session.execute(documents.insert(), rows[start : start + 1000])


@contextmanager
def _sqlite_ledger() -> Iterator[Any]:
    import tempfile

    from integrations.db.engine import make_engine
    from integrations.db.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="bench-precedents-") as directory:
        engine = make_engine(f"sqlite:///{directory}/ledger.db")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _postgres_ledger() -> Iterator[Any]:
    from tests.support.databases import migrated_engine, postgres_schema_url

    with postgres_schema_url() as url, migrated_engine(url) as engine:
        yield engine
