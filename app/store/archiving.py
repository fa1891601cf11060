"""Archiving: an ended blog older than ARCHIVE_AFTER_DAYS becomes a still page.

Each instance checks every `CHECK_SECONDS`; each blog is archived in a `Change` that holds
its lock and checks again that it is ended and not archived, so it is archived once. The
change is a `blog.updated` (with `archived_at`): pages are rendered without the live
client from then on, and readers still connected are told, then closed (4410).
"""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from app.domain import events
from app.domain.models import Blog, BlogStatus, now
from app.domain.shapes.blogs import BlogPublic
from app.store.db import Database
from app.store.eventlog import Change, Publisher

CHECK_SECONDS = 60.0


async def archive_ended(
    db: Database, publisher: Publisher, after: timedelta, limit: int = 50
) -> int:
    """Archive the blogs that ended more than `after` ago; returns how many this call did."""
    async with db.read() as session:
        due = list(
            await session.scalars(
                select(col(Blog.slug))
                .where(
                    col(Blog.status) == BlogStatus.ended,
                    col(Blog.archived_at).is_(None),
                    col(Blog.ended_at) <= now() - after,
                )
                .order_by(col(Blog.ended_at))
                .limit(limit)
            )
        )
    archived = 0
    for slug in due:
        async with Change(db, publisher) as change:
            blog = await change.claim_offset(slug)
            if blog is None or blog.status != BlogStatus.ended or blog.archived_at is not None:
                change.abandon()  # reopened, or archived by another instance meanwhile
                continue
            blog.archived_at = now()
            change.append(blog, events.blog_updated(BlogPublic.of(blog)))
            archived += 1
    return archived
