"""A blog may have a results box above its feed (a score, or rows of label and value).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of `blog` on SQLite would cascade to entries).
    op.add_column("blog", sa.Column("box", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("blog", "box")
