"""An entry may carry a poll; readers vote once each.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of `entry` on SQLite would cascade to events).
    op.add_column("entry", sa.Column("poll", sa.JSON(), nullable=True))
    op.create_table(
        "vote",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blog.id"], name=op.f("fk_vote_blog_id_blog"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entry.id"], name=op.f("fk_vote_entry_id_entry"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entry_id", "voter", name=op.f("pk_vote")),
    )
    op.create_index(op.f("ix_vote_blog_id"), "vote", ["blog_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_vote_blog_id"), table_name="vote")
    op.drop_table("vote")
    op.drop_column("entry", "poll")
