"""Entries may be drafts or scheduled: `status` and `publish_at`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:04:35.965985
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entry", schema=None) as batch_op:
        # Every entry written before this revision was published.
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="published")
        )
        batch_op.add_column(sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_entry_status_publish_at", ["status", "publish_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.drop_index("ix_entry_status_publish_at")
        batch_op.drop_column("publish_at")
        batch_op.drop_column("status")
