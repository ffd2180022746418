"""Precedent search on SQLite FTS5 and PostgreSQL tsvector, and the index's catch-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from domain.precedents import RequestQuery
from domain.sop import SopMeta
from domain.stages import Stage
from govflow.precedents import find_precedents, query_for, refresh_index
from integrations.db.engine import make_sessionmaker
from integrations.db.models import RequestRow
from integrations.db.search import (
    DecidedRequest,
    decided_count,
    index_request,
    index_sop,
    search_passages,
    search_requests,
)
from integrations.db.sops import publish_version, register_sop

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
SOP_TEXT = (
    "# SOP-LST-001 Prohibited items\n\n## 1. Purpose\n\nHow reviewers decide on listings of "
    "prohibited and restricted items.\n\n## 5. Decision table\n\nE-cigarettes, vapes and "
    "e-liquids are restricted in MY: 18+ gating and a licensed retailer permit.\n\n"
    "### 5.1 Edge cases\n\nVape accessories without a heating element are KEEP.\n"
)
META = SopMeta(
    id="SOP-LST-001",
    title="Prohibited items",
    owner_team="listing_experts",
    domain="product_listing",
    markets=("MY", "SG"),
)


@pytest.fixture
def session(ledger: Engine) -> Iterator[Session]:
    """One transaction on the ledger."""
    with make_sessionmaker(ledger).begin() as session:
        yield session


def index_first_version(session: Session) -> int:
    """SOP_TEXT indexed as version 1 of SOP-LST-001; how many sections."""
    return index_sop(
        session,
        sop_id="SOP-LST-001",
        version=1,
        text=SOP_TEXT,
        domain="product_listing",
        markets=["MY"],
        now=NOW,
    )


def decided(key: str, summary: str, text: str, market: str = "MY") -> DecidedRequest:
    return DecidedRequest(
        key=key,
        summary=summary,
        text=text,
        request_type="listing_policy_change",
        domain="product_listing",
        market=market,
        outcome="DONE",
        produced=("SOP-LST-001 v2",),
        decided_at=date(2026, 3, 1),
    )


def request_row(key: str, stage: Stage, summary: str, description: str) -> RequestRow:
    return RequestRow(
        jira_key=key,
        jira_id=key.split("-")[1],
        project="MODREQ",
        summary=summary,
        request_type="listing_policy_change",
        domain="product_listing",
        market="MY",
        stage=stage.value,
        facts={"values": {"description": description, "affected_sop": "SOP-LST-001 Prohibited"}},
        state={
            "published": [{"sop_id": "SOP-LST-001", "version": 2, "effective_date": "2026-12-07"}]
        },
        jira_updated=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


class TestSearch:
    def test_stemmed_words_find_a_request(self, session: Session) -> None:
        """'listings' and 'retailer' find 'listing' and 'retailers' (both backends stem)."""
        index_request(session, decided("MODREQ-1", "Vape pods", "licensed retailers listing"), NOW)
        index_request(session, decided("MODREQ-2", "Knives", "kitchen knife blades"), NOW)
        found = search_requests(session, ["retailer", "listings"], 5)
        assert [c.key for c in found] == ["MODREQ-1"]
        assert found[0].sop_versions == ("SOP-LST-001 v2",)
        assert found[0].score > 0

    def test_domain_filter(self, session: Session) -> None:
        """Given a domain, only that domain's requests are scored and returned."""
        index_request(session, decided("MODREQ-1", "Vape pods", "vape retailers"), NOW)
        other = decided("MODREQ-2", "Vape reviews", "vape retailers")
        index_request(session, other.__class__(**{**other.__dict__, "domain": "content"}), NOW)
        assert {c.key for c in search_requests(session, ["vape"], 5)} == {"MODREQ-1", "MODREQ-2"}
        found = search_requests(session, ["vape"], 5, domain="content")
        assert [c.key for c in found] == ["MODREQ-2"]

    def test_reindexing_updates_in_place(self, session: Session) -> None:
        """Indexing a request again replaces its entry: one row, the new words."""
        index_request(session, decided("MODREQ-1", "Vape pods", "old words"), NOW)
        index_request(session, decided("MODREQ-1", "Vape pods", "fresh wording"), NOW)
        assert decided_count(session) == 1
        assert search_requests(session, ["old"], 5) == []
        assert [c.key for c in search_requests(session, ["fresh"], 5)] == ["MODREQ-1"]

    def test_odd_terms_never_reach_the_query_syntax(self, session: Session) -> None:
        """Quotes, operators and FTS keywords are dropped, not interpreted."""
        index_request(session, decided("MODREQ-1", "Vape pods", "licensed retailers"), NOW)
        assert search_requests(session, ['"', "NEAR(", "a OR b", "*"], 5) == []

    def test_sections_of_the_latest_version_only(self, session: Session) -> None:
        """A new version replaces the old one's sections; an older one changes nothing."""
        index_first_version(session)
        newer = SOP_TEXT.replace("heating element", "heating coil")
        assert (
            index_sop(
                session,
                sop_id="SOP-LST-001",
                version=2,
                text=newer,
                domain="product_listing",
                markets=["MY"],
                now=NOW,
            )
            == 3
        )
        assert index_first_version(session) == 0
        found = search_passages(session, ["accessories"], 5)
        assert [(p.sop_id, p.version, p.number, p.heading) for p in found] == [
            ("SOP-LST-001", 2, "5.1", "Edge cases")
        ]
        assert "heating coil" in found[0].text


class TestCatchUp:
    def test_closed_requests_and_published_versions_are_indexed_once(
        self, session: Session
    ) -> None:
        """Routing finds what closed and what was published since, and only those."""
        register_sop(
            session,
            META,
            SOP_TEXT,
            author="t",
            effective_date=date(2026, 7, 1),
            changelog="import",
            now=NOW,
        )
        session.add(request_row("MODREQ-1", Stage.DONE, "Vape pods", "licensed vape retailers"))
        session.add(request_row("MODREQ-2", Stage.SIGN_OFF, "Vape kits", "vape retailers"))
        session.flush()
        assert refresh_index(session, NOW) == 1 + 3
        assert refresh_index(session, NOW) == 0
        publish_version(
            session,
            "SOP-LST-001",
            SOP_TEXT + "\n## 6. Time limits\n\nFour working hours.\n",
            based_on_version=1,
            author="t",
            effective_date=NOW.date(),
            changelog="c",
            jira_key="MODREQ-1",
            now=NOW,
        )
        assert refresh_index(session, NOW) == 4
        passages = search_passages(session, ["working"], 5)
        assert [(p.version, p.number) for p in passages] == [(2, "6")]

    def test_find_precedents_for_a_routed_request(self, session: Session) -> None:
        """The request's own words find the closed one and the SOP's vape sections."""
        register_sop(
            session,
            META,
            SOP_TEXT,
            author="t",
            effective_date=date(2026, 7, 1),
            changelog="import",
            now=NOW,
        )
        session.add(request_row("MODREQ-1", Stage.DONE, "Vape pods", "licensed vape retailers"))
        new = request_row("MODREQ-3", Stage.EXPERT_REVIEW, "Vape devices", "vape permit holders")
        session.add(new)
        session.flush()
        query = query_for(new)
        assert query.affected_sops == ("SOP-LST-001",)
        found = find_precedents(session, query, NOW)
        assert [r.key for r in found.requests] == ["MODREQ-1"]
        assert found.requests[0].sop_versions == ("SOP-LST-001 v2",)
        assert [p.number for p in found.passages][:2] == ["5", "5.1"]
        assert found.notes == ()

    def test_an_empty_ledger_says_no_history(self, session: Session) -> None:
        """Nothing decided and no SOP: the notes say so."""
        query = RequestQuery(
            key="MODREQ-3",
            request_type="qa_dispute",
            domain="content",
            market="VN",
            text="review removed",
            affected_sops=("SOP-CNT-001",),
        )
        found = find_precedents(session, query, NOW)
        assert found.requests == () and found.passages == ()
        assert found.notes[0].startswith("No history yet")
        assert "SOP-CNT-001 is not in the SOP registry" in found.notes[1]


def test_migration_0011_moves_indexed_sections_to_their_own_index(database_url: str) -> None:
    """Sections indexed before 0011 are found after it, by the section search only; and back."""
    from alembic import command

    from integrations.db.engine import make_engine
    from integrations.db.migrate import alembic_config, upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with make_sessionmaker(engine).begin() as session:
            index_first_version(session)
            index_request(session, decided("MODREQ-1", "Vape pods", "heating element"), NOW)
        upgrade(engine)
        with make_sessionmaker(engine).begin() as session:
            found = search_passages(session, ["heating", "vape"], 5)
            assert [p.number for p in found] == ["5.1", "5"]
            assert [c.key for c in search_requests(session, ["heating"], 5)] == ["MODREQ-1"]
            # Rows written after the upgrade reach their kind's index through the triggers.
            index_request(session, decided("MODREQ-2", "Heating coils", "coil"), NOW)
            assert {c.key for c in search_requests(session, ["heating"], 5)} == {
                "MODREQ-1",
                "MODREQ-2",
            }
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.downgrade(config, "0010")
        if engine.dialect.name == "sqlite":
            # 0009's one index over every row again: both sections and the request.
            with engine.connect() as connection:
                matched = connection.exec_driver_sql(
                    "SELECT count(*) FROM precedent_fts WHERE precedent_fts MATCH 'vape'"
                ).scalar()
            assert matched == 3
    finally:
        engine.dispose()
