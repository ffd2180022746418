"""Finding a routed request's precedents and keeping them with it; keeping the index current.

The index (`integrations.db.search`) is brought up to date in the transaction that reads it:
every request that reached a final stage and every SOP version the registry holds that the
index lacks is added first. So whatever closed or was published (by `advance`, an import or
another runner) is found by the next routing without a hook in each of those paths, and a
lost run cannot leave the index behind for good. Both catch-ups cost one anti-join when
there is nothing to add.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from domain.precedents import (
    CANDIDATES,
    Outcome,
    Precedents,
    RequestQuery,
    named_sops,
    precedents_for,
    search_terms,
)
from domain.stages import Stage
from integrations.db.audit import record_audit
from integrations.db.models import RequestRow, SopRow, SopVersionRow
from integrations.db.search import (
    REQUEST,
    SOP_SECTION,
    DecidedRequest,
    any_decided,
    documents,
    index_request,
    index_sop,
    market_seen,
    search_passages,
    search_requests,
    section_counts,
)
from integrations.db.sops import find_sop

DECIDED = (Stage.DONE, Stage.REJECTED, Stage.CANCELLED)
# The ticket fields whose words describe the request (the rules' logical field names).
TEXT_FIELDS = ("description", "proposed_change", "business_justification")
# Catching up a ledger that never had an index (the first routing after the upgrade) is done
# in slices, so that one routing transaction stays short; the next ones take the rest.
CATCH_UP_BATCH = 500


def find_precedents(session: Session, query: RequestQuery, now: datetime) -> Precedents:
    """The precedents of `query` as the ledger stands now, index brought up to date first."""
    refresh_index(session, now)
    terms = search_terms(query.text)
    # Precedents come from the request's own domain: measured on the evaluation set, the
    # filter costs no recall (the domain bonus kept others out of the top three anyway) and
    # halves the backend's scoring work at 10,000 decided requests.
    requests = search_requests(session, terms, CANDIDATES, domain=query.domain or None)
    passages = search_passages(session, terms, CANDIDATES)
    registered = {sop for sop in query.affected_sops if find_sop(session, sop) is not None}
    counts = section_counts(session, registered)
    return precedents_for(
        query,
        requests,
        passages,
        history=any_decided(session),
        market_seen=market_seen(session, query.market),
        sections_by_sop={sop: counts.get(sop, 0) for sop in registered},
        now=now,
    )


def query_for(row: RequestRow) -> RequestQuery:
    """What the routed request `row` says, for the search."""
    values: dict[str, Any] = dict((row.facts or {}).get("values", {}))
    affected = values.get("affected_sop")
    return RequestQuery(
        key=row.jira_key,
        request_type=row.request_type or "",
        domain=row.domain or "",
        market=row.market or "",
        text=_request_text(row.summary, values),
        affected_sops=named_sops(affected if isinstance(affected, str) else ""),
    )


def refresh_index(session: Session, now: datetime) -> int:
    """Index decided requests and SOP versions the index lacks; how many entries were added."""
    return _catch_up_requests(session, now) + _catch_up_sops(session, now)


def _catch_up_requests(session: Session, now: datetime) -> int:
    indexed = select(documents.c.id).where(
        and_(documents.c.kind == REQUEST, documents.c.ref == RequestRow.jira_key)
    )
    query = (
        select(RequestRow)
        .where(RequestRow.stage.in_([s.value for s in DECIDED]), ~indexed.exists())
        .order_by(RequestRow.id)
        .limit(CATCH_UP_BATCH)
    )
    rows = list(session.scalars(query))
    for row in rows:
        index_request(session, decided_request(row), now)
    return len(rows)


def decided_request(row: RequestRow) -> DecidedRequest:
    """A request in a final stage as the index keeps it."""
    values: dict[str, Any] = dict((row.facts or {}).get("values", {}))
    published = (row.state or {}).get("published", [])
    return DecidedRequest(
        key=row.jira_key,
        summary=row.summary,
        text=_request_text("", values),
        request_type=row.request_type or "",
        domain=row.domain or "",
        market=row.market or "",
        outcome=_outcome(row.stage),
        produced=tuple(f"{p['sop_id']} v{p['version']}" for p in published),
        decided_at=row.updated_at.date(),
    )


def _catch_up_sops(session: Session, now: datetime) -> int:
    latest = (
        select(SopVersionRow.sop_id, func.max(SopVersionRow.version).label("version"))
        .group_by(SopVersionRow.sop_id)
        .subquery()
    )
    indexed = (
        select(documents.c.sop_id, func.max(documents.c.sop_version).label("version"))
        .where(documents.c.kind == SOP_SECTION)
        .group_by(documents.c.sop_id)
        .subquery()
    )
    behind = (
        select(latest.c.sop_id, latest.c.version)
        .outerjoin(indexed, indexed.c.sop_id == latest.c.sop_id)
        .where((indexed.c.version.is_(None)) | (indexed.c.version < latest.c.version))
    )
    added = 0
    for sop_id, version in session.execute(behind).all():
        sop = session.get(SopRow, sop_id)
        text = session.scalar(
            select(SopVersionRow.text).where(
                SopVersionRow.sop_id == sop_id, SopVersionRow.version == version
            )
        )
        if sop is None or text is None:
            continue
        added += index_sop(
            session,
            sop_id=sop_id,
            version=int(version),
            text=text,
            domain=sop.domain,
            markets=list(sop.markets),
            now=now,
        )
    return added


def _request_text(summary: str, values: dict[str, Any]) -> str:
    parts = [summary] + [v for f in TEXT_FIELDS if isinstance(v := values.get(f), str)]
    return "\n".join(p for p in parts if p)


def _outcome(stage: str) -> Outcome:
    if stage == Stage.DONE:
        return "DONE"
    if stage == Stage.REJECTED:
        return "REJECTED"
    return "CANCELLED"


def keep_precedents(session: Session, row: RequestRow, jira_url: str, now: datetime) -> Precedents:
    """Find the routed request's precedents and keep them in its facts, audited."""
    found = find_precedents(session, query_for(row), now)
    row.facts = {**row.facts, "precedents": found.model_dump(mode="json"), "jira_url": jira_url}
    record_audit(
        session,
        at=now,
        actor="govflow",
        action="precedents_found",
        request_id=row.id,
        detail={
            "requests": [r.key for r in found.requests],
            "passages": [f"{p.sop_id} v{p.version} {p.number}" for p in found.passages],
            "notes": list(found.notes),
        },
    )
    return found
