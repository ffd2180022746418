"""sla clocks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import integrations.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("sla_policy", sa.String(length=64), nullable=False),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_due_at", integrations.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("due_at", integrations.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", integrations.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", integrations.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "request_id", "stage", "team", "round", name="uq_sla_clocks_request_stage_team_round"
        ),
    )
    op.create_index("ix_sla_clocks_request_id", "sla_clocks", ["request_id"], unique=False)
    # The watchdog's `WHERE next_due_at <= :now ORDER BY next_due_at LIMIT n` reads this index;
    # clocks with nothing left to fire stay out of it.
    op.create_index(
        "ix_sla_clocks_next_due_at",
        "sla_clocks",
        ["next_due_at"],
        unique=False,
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
        sqlite_where=sa.text("next_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_next_due_at", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_request_id", table_name="sla_clocks")
    op.drop_table("sla_clocks")
