"""identity jira accounts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import integrations.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A list, not the single jira_account_id: one email may hold several Jira accounts, and
    # an empty list (Jira knows none) must differ from NULL (Jira was never asked).
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jira_account_ids", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("jira_looked_up_at", integrations.db.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("jira_looked_up_at")
        batch_op.drop_column("jira_account_ids")
