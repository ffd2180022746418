"""training cases, check answers and attestations of published SOP versions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import integrations.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = integrations.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "training_cases",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sop_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("request_id", ID, sa.ForeignKey("requests.id"), nullable=True),
        sa.Column("jira_key", sa.String(length=64), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("case", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sop_id", "version", name="uq_training_cases_sop_version"),
    )
    op.create_index("ix_training_cases_effective", "training_cases", ["effective_date"])
    # One answer per person, version and question: the first click counts.
    op.create_table(
        "training_answers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sop_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=320), nullable=False),
        sa.Column("question", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Boolean(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "sop_id", "version", "person", "question", name="uq_training_answers_once"
        ),
    )
    # One attestation per person and version.
    op.create_table(
        "attestations",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sop_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=320), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("attested_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sop_id", "version", "person", name="uq_attestations_once"),
    )


def downgrade() -> None:
    op.drop_table("attestations")
    op.drop_table("training_answers")
    op.drop_index("ix_training_cases_effective", table_name="training_cases")
    op.drop_table("training_cases")
