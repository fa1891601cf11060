"""The search index of published entries, and searching it: SQLite's FTS5 or Postgres's
full-text search, each blog's entries stemmed in its language (app/domain/search.py).

The index is not SQLModel's: FTS5 is a virtual table and `tsvector` is Postgres's alone, so
migration 0014 makes it per database, and `MANAGED_HERE` keeps it out of the comparison of
models and migrations. It follows the entries' events (entry_index.py): a change and its
index rows commit together.
"""

from typing import Any

from sqlalchemy import bindparam, column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause
from sqlmodel import col

from app.domain import search
from app.domain.alerts import plain_text
from app.domain.models import Blog, Entry, EntryStatus
from app.domain.shapes.entries import EntryPublic
from app.domain.shapes.finding import SearchPage, SearchResult
from app.store import bylines

TABLE = "entrysearch"
# The tables the index is made of (FTS5 keeps its data in shadow tables).
MANAGED_HERE = frozenset(
    {TABLE, *(f"{TABLE}_{part}" for part in ("data", "idx", "content", "docsize", "config"))}
)
HEADLINE_WEIGHT = 4.0  # a word in the headline counts this many in the body (FTS5 bm25)


def _sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def searchable_text(entry: dict[str, object]) -> tuple[str, str]:
    """What of an entry (as its event carries it) is searched: headline; text and tags."""
    tags = " ".join(str(tag) for tag in entry.get("tags") or ())  # type: ignore[attr-defined]
    return str(entry.get("headline") or ""), f"{plain_text(str(entry['html']))} {tags}".strip()


async def index(session: AsyncSession, entries: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Put these entries (each with its blog's id and language, as its event carries it) in
    the index; any that was there is `unindex`ed first."""
    rows = []
    for blog_id, language, entry in entries:
        headline, body = searchable_text(entry)
        algorithm = search.config(language)
        if _sqlite(session):
            headline, body = search.terms(headline, algorithm), search.terms(body, algorithm)
        else:
            headline, body = search.normalise(headline), search.normalise(body)
        rows.append({"id": entry["id"], "blog": blog_id, "config": algorithm,
                     "headline": headline, "body": body})  # fmt: skip
    if _sqlite(session):
        statement = f"INSERT INTO {TABLE} (rowid, headline, body) VALUES (:id, :headline, :body)"
        await session.execute(text(statement), rows)
        return
    await session.execute(
        text(
            f"INSERT INTO {TABLE} (entry_id, blog_id, config, document) VALUES (:id, :blog,"
            " CAST(:config AS regconfig),"
            " setweight(to_tsvector(CAST(:config AS regconfig), :headline), 'A')"
            " || setweight(to_tsvector(CAST(:config AS regconfig), :body), 'B'))"
        ),
        rows,
    )


async def unindex(session: AsyncSession, entry_ids: list[int]) -> None:
    key = "rowid" if _sqlite(session) else "entry_id"
    statement = text(f"DELETE FROM {TABLE} WHERE {key} IN :ids")
    await session.execute(
        statement.bindparams(bindparam("ids", expanding=True)), {"ids": entry_ids}
    )


async def find(
    session: AsyncSession, query: search.Query, blogs: list[Blog], offset: int, limit: int
) -> list[SearchResult]:
    """Published entries of `blogs` matching `query`, best first (then newest), from
    `offset`, each with its snippet."""
    if not query or not blogs:
        return []
    by_id = {blog.id: blog for blog in blogs}
    ids = list(by_id)
    algorithms = list(dict.fromkeys(search.config(blog.language) for blog in blogs))
    if _sqlite(session):
        statement = text(
            f"SELECT e.id FROM {TABLE} JOIN entry e ON e.id = {TABLE}.rowid"
            f" WHERE {TABLE} MATCH :match AND e.blog_id IN :blogs"
            f" ORDER BY bm25({TABLE}, {HEADLINE_WEIGHT}, 1.0), e.published_at DESC, e.id DESC"
            " LIMIT :limit OFFSET :offset"
        ).bindparams(bindparam("blogs", expanding=True))
        params = {"match": search.fts5(query, algorithms)}
    else:
        tsquery = " || ".join(
            f"websearch_to_tsquery(CAST(:config{i} AS regconfig), :query)"
            for i in range(len(algorithms))
        )
        statement = text(
            f"SELECT s.entry_id FROM {TABLE} s JOIN entry e ON e.id = s.entry_id,"
            f" (SELECT {tsquery} AS q) AS q WHERE s.document @@ q.q AND s.blog_id IN :blogs"
            " ORDER BY ts_rank_cd(s.document, q.q) DESC, e.published_at DESC, e.id DESC"
            " LIMIT :limit OFFSET :offset"
        ).bindparams(bindparam("blogs", expanding=True))
        params = {"query": search.postgres(query)}
        params |= {f"config{i}": algorithm for i, algorithm in enumerate(algorithms)}
    found = [
        row[0]
        for row in await session.execute(
            statement, {**params, "blogs": ids, "limit": limit, "offset": offset}
        )
    ]
    if not found:
        return []
    entries = {
        entry.id: entry
        for entry in await session.scalars(
            select(Entry).where(
                col(Entry.id).in_(found), col(Entry.status) == EntryStatus.published
            )
        )
    }
    named = await bylines.profiles(session, (i for e in entries.values() for i in e.author_ids))
    results = []
    for entry_id in found:
        entry = entries.get(entry_id)
        if entry is None:
            continue
        blog = by_id[entry.blog_id]
        public = EntryPublic.of(entry, blog.slug, named)
        algorithm = search.config(blog.language)
        snippet = search.snippet(plain_text(entry.html), query, algorithm)
        results.append(SearchResult(entry=public, snippet=snippet))
    return results


async def page(
    session: AsyncSession, blogs: list[Blog], q: str, number: int, limit: int
) -> SearchPage:
    """Page `number` (from 1) of what the query `q` finds in `blogs`."""
    found = await find(session, search.parse(q), blogs, (number - 1) * limit, limit + 1)
    more = len(found) > limit and number < search.PAGES_MAX
    return SearchPage(results=found[:limit], next_page=number + 1 if more else None)


async def unindexed(session: AsyncSession, limit: int) -> list[tuple[Entry, Blog]]:
    """Published entries the index lacks (those from before it), by id: `liveupdates
    migrate` indexes them. (NOT EXISTS: an anti-join; Postgres runs NOT IN over a large
    subquery row by row.)"""
    key: ColumnClause[int] = column("rowid" if _sqlite(session) else "entry_id")
    indexed = select(key).select_from(table(TABLE)).where(key == col(Entry.id)).exists()
    rows = await session.execute(
        select(Entry, Blog)
        .join(Blog, col(Blog.id) == col(Entry.blog_id))
        .where(col(Entry.status) == EntryStatus.published, ~indexed)
        .order_by(col(Entry.id))
        .limit(limit)
    )
    return [(entry, blog) for entry, blog in rows]
