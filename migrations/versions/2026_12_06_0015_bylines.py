"""Bylines: author profiles; entries name theirs; a token may be tied to one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "author",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("photo_url", sa.String(length=1024), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_author")),
    )
    op.create_table(
        "entryauthor",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["author.id"],
            name=op.f("fk_entryauthor_author_id_author"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["blog_id"],
            ["blog.id"],
            name=op.f("fk_entryauthor_blog_id_blog"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entry.id"],
            name=op.f("fk_entryauthor_entry_id_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "author_id", name=op.f("pk_entryauthor")),
    )
    op.create_index(
        "ix_entryauthor_blog_author", "entryauthor", ["blog_id", "author_id", "entry_id"]
    )
    # Plain ADD COLUMNs (a batch rebuild of `entry` on SQLite would cascade to events).
    op.add_column("entry", sa.Column("author_ids", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("apitoken", sa.Column("author_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("apitoken", "author_id")
    op.drop_column("entry", "author_ids")
    op.drop_index("ix_entryauthor_blog_author", table_name="entryauthor")
    op.drop_table("entryauthor")
    op.drop_table("author")
