"""Every blog's stream has an epoch: offsets are counted within it, and a restore makes it
anew, so that a reader's old offset can never resume a different stream.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (a batch rebuild of `blog` on SQLite would cascade to entries).
    op.add_column(
        "blog", sa.Column("epoch", sa.String(length=32), nullable=False, server_default="")
    )
    connection = op.get_bind()
    blog = sa.table("blog", sa.column("id", sa.Integer), sa.column("epoch", sa.String))
    for (blog_id,) in connection.execute(sa.select(blog.c.id)).all():
        connection.execute(
            blog.update().where(blog.c.id == blog_id).values(epoch=secrets.token_hex(8))
        )


def downgrade() -> None:
    op.drop_column("blog", "epoch")
