"""Entry ids are never handed out twice, on SQLite too (AUTOINCREMENT).

Without it SQLite gives a new row the largest id plus one, so deleting the newest entry
freed its id for the next one: a link shared to the deleted entry would then show another.
Postgres's sequences never reuse an id; there is nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite cannot alter a table's rowid policy: the table is rebuilt, rows and indexes kept.
    with op.batch_alter_table(
        "entry", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
