"""What readers can find follows what they were told: each entry event a change logs
updates the entry's tags and authors (to filter by) and its place in the search index, in
the change's own transaction. Drafts and the like have no events, so they are in none."""

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.events import EventType
from app.domain.models import EntryAuthor, EntryTag
from app.store import search

_TAGS = EntryTag.__table__  # type: ignore[attr-defined]
_AUTHORS = EntryAuthor.__table__  # type: ignore[attr-defined]


async def follow(session: AsyncSession, told: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Index what these events (each of a blog, in its language) say of their entries: in
    a few statements, however many (a change has one or two; `migrate` hands batches)."""
    last: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for blog_id, language, event in told:
        entry_id = event["entry"]["id"] if "entry" in event else event["entry_id"]
        last[entry_id] = (blog_id, language, event)
    # A new entry has nothing to forget; an edited or deleted one, what it had.
    stale = [i for i, (_, _, e) in last.items() if e["type"] != EventType.ENTRY_CREATED]
    if stale:
        await session.execute(delete(EntryTag).where(col(EntryTag.entry_id).in_(stale)))
        await session.execute(delete(EntryAuthor).where(col(EntryAuthor.entry_id).in_(stale)))
        await search.unindex(session, stale)
    shown = [(b, lang, e["entry"]) for b, lang, e in last.values() if "entry" in e]
    tags = [{"entry_id": e["id"], "tag": t, "blog_id": b} for b, _, e in shown for t in e["tags"]]
    if tags:
        await session.execute(insert(_TAGS), tags)
    authors = [
        {"entry_id": e["id"], "author_id": a["id"], "blog_id": b}
        for b, _, e in shown
        for a in e["authors"]
    ]
    if authors:
        await session.execute(insert(_AUTHORS), authors)
    if shown:
        await search.index(session, shown)


async def top_tags(session: AsyncSession, blog_id: int, limit: int) -> list[tuple[str, int]]:
    """The blog's most used tags, with how many published entries carry each."""
    count = func.count().label("entries")
    rows = await session.execute(
        select(col(EntryTag.tag), count)
        .where(col(EntryTag.blog_id) == blog_id)
        .group_by(col(EntryTag.tag))
        .order_by(count.desc(), col(EntryTag.tag))
        .limit(limit)
    )
    return [(tag, entries) for tag, entries in rows]
