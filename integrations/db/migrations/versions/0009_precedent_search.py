"""precedent search: decided requests and SOP sections, full-text indexed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import integrations.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# SQLite: an FTS5 index over the table's own rows (external content), kept in step by
# triggers; porter stemming so "listings" finds "listing".
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE precedent_fts USING fts5(title, body, "
    "content='precedent_documents', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER precedent_fts_ai AFTER INSERT ON precedent_documents BEGIN "
    "INSERT INTO precedent_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER precedent_fts_ad AFTER DELETE ON precedent_documents BEGIN "
    "INSERT INTO precedent_fts(precedent_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER precedent_fts_au AFTER UPDATE ON precedent_documents BEGIN "
    "INSERT INTO precedent_fts(precedent_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO precedent_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
# PostgreSQL: a stored tsvector (title weighs more than body) with a GIN index.
POSTGRES_FTS = [
    "ALTER TABLE precedent_documents ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED",
    "CREATE INDEX ix_precedent_documents_search ON precedent_documents USING gin (search)",
]


def upgrade() -> None:
    op.create_table(
        "precedent_documents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("request_type", sa.String(length=64), nullable=True),
        sa.Column("domain", sa.String(length=64), nullable=True),
        sa.Column("market", sa.String(length=16), nullable=True),
        sa.Column("markets", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("produced", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.Date(), nullable=True),
        sa.Column("sop_id", sa.String(length=32), nullable=True),
        sa.Column("sop_version", sa.Integer(), nullable=True),
        sa.Column("section", sa.String(length=32), nullable=True),
        sa.Column("indexed_at", integrations.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref", name="uq_precedent_documents_kind_ref"),
    )
    op.create_index("ix_precedent_documents_kind_market", "precedent_documents", ["kind", "market"])
    op.create_index("ix_precedent_documents_sop_id", "precedent_documents", ["sop_id"])
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS precedent_fts_ai")
        op.execute("DROP TRIGGER IF EXISTS precedent_fts_ad")
        op.execute("DROP TRIGGER IF EXISTS precedent_fts_au")
        op.execute("DROP TABLE IF EXISTS precedent_fts")
    op.drop_table("precedent_documents")
