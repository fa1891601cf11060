"""Entries carry tags; published entries' tags are indexed to filter by.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of `entry` on SQLite would cascade to events).
    op.add_column("entry", sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("entry", sa.Column("given_tags", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "entrytag",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blog.id"], name=op.f("fk_entrytag_blog_id_blog"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entry.id"],
            name=op.f("fk_entrytag_entry_id_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "tag", name=op.f("pk_entrytag")),
    )
    op.create_index("ix_entrytag_blog_tag", "entrytag", ["blog_id", "tag", "entry_id"])


def downgrade() -> None:
    op.drop_index("ix_entrytag_blog_tag", table_name="entrytag")
    op.drop_table("entrytag")
    op.drop_column("entry", "given_tags")
    op.drop_column("entry", "tags")
