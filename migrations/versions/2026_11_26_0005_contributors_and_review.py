"""Contributors' submissions: an editor's note when one is returned; blogs may show
readers their live audience.

(The `submitted` and `returned` statuses and the `contributor` role need no schema: both
are strings.)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 19:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
    # A plain ADD COLUMN on both databases: a batch rebuild of `blog` on SQLite would
    # cascade its DROP to every entry and event of every blog.
    op.add_column(
        "blog", sa.Column("show_audience", sa.Boolean(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("blog", "show_audience")  # SQLite 3.35+ drops a column in place
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.drop_column("review_note")
