"""What a reader's page shows, read from the database: the blog, a page of its entries
(newest or oldest first, or around one entry), its pinned entries and key events."""

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.domain.filters import Filter
from app.domain.models import Blog, Entry, EntryStatus
from app.domain.paging import (
    NEWEST_FIRST,
    OLDEST_FIRST,
    encode_cursor,
    newer_than,
    newer_than_cursor,
    older_than,
)
from app.domain.shapes.blogs import BlogPublic
from app.domain.shapes.entries import EntryPublic
from app.domain.shapes.polls import PollResults
from app.store import bylines
from app.store.db import Database
from app.store.entry_index import top_tags
from app.store.votes import tallies

PAGE_SIZE = 20
PINNED_MAX = 5
KEY_EVENTS_MAX = 30
TAGS_SHOWN = 12  # in the filter bar
NEWER_AROUND = 5  # an entry's page: this many newer entries above it, a page of older below


@dataclass
class BlogView:
    blog: BlogPublic
    offset: int
    entries: list[EntryPublic]
    pinned: list[EntryPublic]
    key_events: list[EntryPublic]
    older: str | None  # the cursor of the next page (older; newer when oldest_first)
    modified: datetime
    focus: EntryPublic | None = None  # an entry's own page: this entry, among its neighbours
    oldest_first: bool = False  # the reading order `?order=oldest`
    latest: list[EntryPublic] | None = None  # for JSON-LD, whatever order the page is in
    polls: dict[int, PollResults] = field(default_factory=dict)  # by entry id, those voted in
    filter: Filter = Filter()  # the entries shown are those it lets through
    tags: list[tuple[str, int]] = field(default_factory=list)  # the most used, with counts
    author_name: str | None = None  # the name of the profile filtered by


EVERY_ENTRY = Filter()
# Drafts and scheduled entries are the newsroom's business.
PUBLISHED = col(Entry.status) == EntryStatus.published


async def _around(session: AsyncSession, blog: Blog) -> tuple[list[Entry], list[Entry]]:
    """The blog's pinned entries and key events, newest first."""
    pinned = await session.scalars(
        select(Entry)
        .where(col(Entry.blog_id) == blog.id, PUBLISHED, col(Entry.pinned))
        .order_by(*NEWEST_FIRST)
        .limit(PINNED_MAX)
    )
    key_events = await session.scalars(
        select(Entry)
        .where(col(Entry.blog_id) == blog.id, PUBLISHED, col(Entry.key_event))
        .order_by(*NEWEST_FIRST)
        .limit(KEY_EVENTS_MAX)
    )
    return list(pinned), list(key_events)


async def _view(
    session: AsyncSession,
    blog: Blog,
    shown: list[Entry],
    older: list[Entry],
    around: tuple[list[Entry], list[Entry]],
    focus: Entry | None = None,
) -> BlogView:
    """`shown` newest first; `older`: what follows, one more than a page if there is more."""
    every = [*shown, *older, *around[0], *around[1]]
    named = await bylines.profiles(session, (i for e in every for i in e.author_ids))

    def public(entry: Entry) -> EntryPublic:
        return EntryPublic.of(entry, blog.slug, named)

    entries = [public(e) for e in shown + older[:PAGE_SIZE]]
    more = len(older) > PAGE_SIZE
    return BlogView(
        blog=BlogPublic.of(blog),
        offset=blog.last_offset,
        entries=entries,
        pinned=[public(e) for e in around[0]],
        key_events=[public(e) for e in around[1]],
        older=encode_cursor(older[PAGE_SIZE - 1]) if more else None,
        modified=max(
            [blog.created_at, blog.ended_at or blog.created_at]
            + [e.updated_at or e.published_at for e in entries]
        ),
        focus=public(focus) if focus is not None else None,
    )


async def load_view(
    db: Database,
    blog_id: int,
    cursor: str | None = None,
    oldest_first: bool = False,
    only: Filter = EVERY_ENTRY,
) -> BlogView:
    """A page of the blog: the latest entries and, with `cursor`, those before it; or, when
    `oldest_first`, the first entries and those after the cursor; of those, `only` the ones
    the filter lets through."""
    async with db.read() as session:
        # The blog (and its offset) first: whatever is read after it is at least as new,
        # so a client that resumes from this offset can miss nothing.
        blog = await session.get(Blog, blog_id)
        if blog is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blog")
        of_blog = (col(Entry.blog_id) == blog_id, PUBLISHED, *only.conditions(blog_id))
        query = select(Entry).where(*of_blog)
        if cursor is not None:
            query = query.where(newer_than_cursor(cursor) if oldest_first else older_than(cursor))
        order = OLDEST_FIRST if oldest_first else NEWEST_FIRST
        entries = list(await session.scalars(query.order_by(*order).limit(PAGE_SIZE + 1)))
        view = await _view(session, blog, [], entries, await _around(session, blog))
        view.filter = only
        view.tags = await top_tags(session, blog_id, TAGS_SHOWN)
        if only.author is not None:
            found = await bylines.profiles(session, [only.author])
            view.author_name = found[only.author].name if found else None
        if oldest_first:  # the JSON-LD lists the latest, whatever the order
            latest = await session.scalars(
                select(Entry).where(*of_blog).order_by(*NEWEST_FIRST).limit(PAGE_SIZE)
            )
            view.oldest_first = True
            view.latest = await bylines.publics(session, list(latest), blog.slug)
        return await _with_polls(session, view, blog_id)


async def load_entry_view(db: Database, blog_id: int, entry_id: int) -> BlogView | None:
    """An entry's page: a few newer entries, the entry, a page of older ones. None when the
    entry is not a published entry of this blog."""
    async with db.read() as session:
        blog = await session.get(Blog, blog_id)
        entry = await session.get(Entry, entry_id)
        if blog is None or entry is None or entry.blog_id != blog_id:
            return None
        if entry.status != EntryStatus.published:
            return None
        of_blog = (col(Entry.blog_id) == blog_id, PUBLISHED)
        newer = await session.scalars(
            select(Entry)
            .where(*of_blog, newer_than(entry))
            .order_by(*OLDEST_FIRST)
            .limit(NEWER_AROUND)
        )
        older = await session.scalars(
            select(Entry)
            .where(*of_blog, older_than(encode_cursor(entry)))
            .order_by(*NEWEST_FIRST)
            .limit(PAGE_SIZE + 1)
        )
        shown = [*reversed(list(newer)), entry]
        around = await _around(session, blog)
        view = await _view(session, blog, shown, list(older), around, entry)
        view.tags = await top_tags(session, blog_id, TAGS_SHOWN)
        return await _with_polls(session, view, blog_id)


async def _with_polls(session: AsyncSession, view: BlogView, blog_id: int) -> BlogView:
    """The view, with the results of the polls it shows (counted now)."""
    if any(e.poll for e in [*view.entries, *view.pinned]):
        view.polls = (await tallies(session, [blog_id])).get(blog_id, {})
    return view
