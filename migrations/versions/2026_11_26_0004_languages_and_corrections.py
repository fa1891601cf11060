"""Blogs have a language; edits may carry a correction; the event log knows each event's
entry, so an entry's history is read from it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:40:00
"""

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000


def _backfill_entry_ids() -> None:
    """Events logged before this revision carry their entry only in their JSON."""
    bind = op.get_bind()
    event = sa.table(
        "event",
        sa.column("blog_id", sa.Integer),
        sa.column("offset", sa.Integer),
        sa.column("type", sa.String),
        sa.column("data", sa.Text),
        sa.column("entry_id", sa.Integer),
    )
    after = (0, 0)
    while True:
        rows = bind.execute(
            sa.select(event.c.blog_id, event.c.offset, event.c.data)
            .where(
                event.c.type.like("entry.%"),
                sa.tuple_(event.c.blog_id, event.c.offset) > sa.tuple_(*after),
            )
            .order_by(event.c.blog_id, event.c.offset)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for blog_id, offset, data in rows:
            decoded = orjson.loads(data)
            entry = decoded.get("entry")
            entry_id = entry["id"] if isinstance(entry, dict) else decoded.get("entry_id")
            bind.execute(
                event.update()
                .where(event.c.blog_id == blog_id, event.c.offset == offset)
                .values(entry_id=entry_id)
            )
        after = (rows[-1][0], rows[-1][1])


def upgrade() -> None:
    # Every blog before this revision was shown in English. A plain ADD COLUMN: a batch
    # rebuild of `blog` on SQLite would cascade its DROP to every entry and event.
    op.add_column(
        "blog", sa.Column("language", sa.String(length=64), nullable=False, server_default="en")
    )
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("corrections", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_event_blog_entry", ["blog_id", "entry_id", "offset"])
    _backfill_entry_ids()


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_blog_entry")
        batch_op.drop_column("entry_id")
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.drop_column("corrections")
    # In place (SQLite 3.35+): a batch rebuild of `blog` would cascade to its entries.
    op.drop_column("blog", "language")
