"""Web Push: the server's VAPID keys, readers' subscriptions, notifications to send.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pushkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("private_key", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushkey")),
    )
    op.create_table(
        "pushsubscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blog_id"],
            ["blog.id"],
            name=op.f("fk_pushsubscription_blog_id_blog"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushsubscription")),
    )
    op.create_index(
        "ux_pushsubscription_blog_endpoint",
        "pushsubscription",
        ["blog_id", "endpoint"],
        unique=True,
    )
    op.create_table(
        "pushjob",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blog_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("upto", sa.Integer(), nullable=False),
        sa.Column("sent_upto", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blog.id"], name=op.f("fk_pushjob_blog_id_blog"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushjob")),
    )
    op.create_index(op.f("ix_pushjob_blog_id"), "pushjob", ["blog_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pushjob_blog_id"), table_name="pushjob")
    op.drop_table("pushjob")
    op.drop_index("ux_pushsubscription_blog_endpoint", table_name="pushsubscription")
    op.drop_table("pushsubscription")
    op.drop_table("pushkey")
