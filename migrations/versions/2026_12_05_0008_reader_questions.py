"""Readers may send a blog's newsroom questions, when the blog accepts them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "blog",
        sa.Column("accepts_questions", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blog.id"], name=op.f("fk_question_blog_id_blog"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question")),
    )
    op.create_index(op.f("ix_question_blog_id"), "question", ["blog_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_question_blog_id"), table_name="question")
    op.drop_table("question")
    op.drop_column("blog", "accepts_questions")
