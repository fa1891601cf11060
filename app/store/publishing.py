"""Publishing drafts and scheduled entries, and the scheduler that publishes on time.

A draft or scheduled entry is invisible to readers: it has no event. Publishing gives it
its `published_at` (the moment it went out) and logs `entry.created`, exactly as a post.
A blog announced for later ("upcoming") goes live with the first entry published.

Every instance runs `publish_all_due` every SCHEDULE_CHECK_SECONDS. Each due entry is
published inside a `Change` that holds the blog's lock and checks the entry is still
scheduled, so when several instances (or a restart) race for the same entry, exactly one
publishes it.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain import alerts, entry_rules, events
from app.domain.events import EventType
from app.domain.models import Blog, BlogStatus, Entry, EntryStatus, Event, now
from app.domain.polls import closed, is_open
from app.domain.shapes.blogs import BlogPublic
from app.domain.shapes.entries import EntryPublic
from app.ops.metrics import SCHEDULED_PUBLISHED
from app.store import bylines, push
from app.store.db import Database
from app.store.eventlog import Change, Publisher


async def publish(change: Change, slug: str, entry: Entry) -> EntryPublic:
    """Publish `entry` (a draft, a scheduled entry or an approved submission) in `change`,
    whose blog is locked. `published_at` is now: the moment it went out."""
    blog = await change.claim_offset(slug)
    assert blog is not None
    blog = await _goes_live(change, blog)
    entry.status = EntryStatus.published
    entry.published_at = now()
    entry.publish_at = None
    entry.review_note = None  # the newsroom's business, not readers'
    entry.version += 1
    await change.session.flush()
    public = await bylines.public(change.session, entry, slug)
    change.append(blog, events.entry_created(public))
    await alert_key_event(change, blog, public)
    return public


async def add_published(change: Change, blog: Blog, entry: Entry) -> EntryPublic:
    """Store `entry`, new and published, in `change`, whose blog's offset it takes; readers
    are told once the change commits."""
    blog = await _goes_live(change, blog)
    change.session.add(entry)
    await change.session.flush()
    public = await bylines.public(change.session, entry, blog.slug)
    change.append(blog, events.entry_created(public))
    await alert_key_event(change, blog, public)
    return public


async def alert_key_event(change: Change, blog: Blog, entry: EntryPublic) -> None:
    """A key event out: its blog's subscribers are notified once `change` commits (never
    after the blog's end, which was their last notification)."""
    if (
        entry.key_event
        and entry.status == EntryStatus.published
        and blog.status != BlogStatus.ended
    ):
        assert blog.id is not None
        await push.enqueue(change.session, blog.id, alerts.key_event(blog.title, entry))


async def _goes_live(change: Change, blog: Blog) -> Blog:
    """An upcoming blog goes live with its first entry, in the entry's change: the blog's
    `blog.updated` takes the offset claimed, the entry the next."""
    if blog.status != BlogStatus.upcoming:
        return blog
    blog.status = BlogStatus.live
    blog.starts_at = now()
    change.append(blog, events.blog_updated(BlogPublic.of(blog)))
    claimed = await change.claim_offset(blog.slug)
    assert claimed is not None
    return claimed


async def published_any(session: AsyncSession, blog: Blog) -> bool:
    """Whether the blog has had an entry out (published, or published and deleted)."""
    logged = await session.scalar(
        select(col(Event.offset))
        .where(col(Event.blog_id) == blog.id, col(Event.type) == EventType.ENTRY_CREATED)
        .limit(1)
    )
    return logged is not None


async def publish_due(db: Database, publisher: Publisher, at: datetime, limit: int = 50) -> int:
    """Publish the scheduled entries due at `at`; returns how many this call published."""
    async with db.read() as session:
        due = (
            await session.execute(
                select(col(Entry.id), col(Blog.slug))
                .join(Blog, col(Blog.id) == col(Entry.blog_id))
                .where(col(Entry.status) == EntryStatus.scheduled, col(Entry.publish_at) <= at)
                .order_by(col(Entry.publish_at), col(Entry.id))
                .limit(limit)
            )
        ).all()
    published = 0
    for entry_id, slug in due:
        async with Change(db, publisher) as change:
            if await change.lock(slug) is None:
                change.abandon()
                continue
            entry = await change.session.get(Entry, entry_id, populate_existing=True)
            if entry is None or not entry_rules.due(
                EntryStatus(entry.status), entry.publish_at, at
            ):
                change.abandon()  # deleted, unscheduled, or published by another instance
                continue
            await publish(change, slug, entry)
            published += 1
            SCHEDULED_PUBLISHED.inc()
    return published


async def publish_all_due(db: Database, publisher: Publisher) -> None:
    """Publish every scheduled entry that is due now (the scheduler's round)."""
    while await publish_due(db, publisher, now()) > 0:
        pass


async def close_due_polls(db: Database, publisher: Publisher) -> int:
    """Close the polls whose `closes_at` has passed: each entry is updated (its result is
    final), exactly once whichever instance gets there first."""
    at = now()
    async with db.read() as session:
        candidates = (
            await session.execute(
                select(col(Entry.id), col(Blog.slug), col(Entry.poll))
                .join(Blog, col(Blog.id) == col(Entry.blog_id))
                .where(col(Entry.status) == EntryStatus.published, col(Entry.poll).is_not(None))
            )
        ).all()
    count = 0
    for entry_id, slug, poll in candidates:
        if not poll or is_open(poll, at) or poll.get("closed_at"):
            continue
        async with Change(db, publisher) as change:
            if await change.lock(slug) is None:  # first: another instance may be closing it
                change.abandon()
                continue
            entry = await change.session.get(Entry, entry_id, populate_existing=True)
            if entry is None or not entry.poll or entry.poll.get("closed_at"):
                change.abandon()
                continue
            await close_poll(change, slug, entry, at)
            count += 1
    return count


async def close_poll(change: Change, slug: str, entry: Entry, at: datetime) -> EntryPublic:
    """Close the entry's poll in `change`: its result is final; readers are told."""
    blog = await change.claim_offset(slug)
    assert blog is not None and entry.poll is not None
    entry.poll = closed(entry.poll, at)
    entry.version += 1
    await change.session.flush()
    public = await bylines.public(change.session, entry, slug)
    change.append(blog, events.entry_updated(public))
    return public
