"""A blog may be announced with a start time ("upcoming") and go live with its first entry.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of `blog` on SQLite would cascade to everything).
    op.add_column("blog", sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE blog SET status = 'live' WHERE status = 'upcoming'")
    op.drop_column("blog", "starts_at")
