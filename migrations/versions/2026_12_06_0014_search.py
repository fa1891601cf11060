"""The search index of published entries: FTS5 on SQLite, tsvector and GIN on Postgres.

`liveupdates migrate` then indexes the entries published before it (app/store/search.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Stems made by the app (each blog's language), kept as words; rowid: the entry's id.
        op.execute(
            "CREATE VIRTUAL TABLE entrysearch USING fts5("
            "headline, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
        return
    op.execute(
        "CREATE TABLE entrysearch ("
        " entry_id integer PRIMARY KEY REFERENCES entry (id) ON DELETE CASCADE,"
        " blog_id integer NOT NULL REFERENCES blog (id) ON DELETE CASCADE,"
        " config regconfig NOT NULL,"
        " document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_entrysearch_document ON entrysearch USING gin (document)")
    op.execute("CREATE INDEX ix_entrysearch_blog_id ON entrysearch (blog_id)")


def downgrade() -> None:
    op.execute("DROP TABLE entrysearch")
