"""events pending index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The runners poll for unapplied events several times a second (SQLite) or on each
    # NOTIFY (PostgreSQL): a partial index holds only those, so the query stays cheap
    # however long the history grows.
    op.create_index(
        "ix_events_pending",
        "events",
        ["request_id"],
        postgresql_where=sa.text("processed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_pending", table_name="events")
