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


async def follow(session: AsyncSession, blog_id: int, language: str, event: dict[str, Any]) -> None:
    """Index what `event` (of the blog's, in its language) says of an entry."""
    kind = event["type"]
    if kind in (EventType.ENTRY_CREATED, EventType.ENTRY_UPDATED):
        entry = event["entry"]
        await _forget(session, entry["id"])
        if entry["tags"]:
            rows = [{"entry_id": entry["id"], "tag": t, "blog_id": blog_id} for t in entry["tags"]]
            await session.execute(insert(_TAGS), rows)
        if entry["authors"]:
            rows = [
                {"entry_id": entry["id"], "author_id": a["id"], "blog_id": blog_id}
                for a in entry["authors"]
            ]
            await session.execute(insert(_AUTHORS), rows)
        await search.index(session, entry["id"], blog_id, language, entry)
    elif kind == EventType.ENTRY_DELETED:
        await _forget(session, event["entry_id"])
        await search.unindex(session, event["entry_id"])


async def _forget(session: AsyncSession, entry_id: int) -> None:
    await session.execute(delete(EntryTag).where(col(EntryTag.entry_id) == entry_id))
    await session.execute(delete(EntryAuthor).where(col(EntryAuthor.entry_id) == entry_id))


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
