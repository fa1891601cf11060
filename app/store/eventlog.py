"""The per-blog event log: every change takes the blog's next offset in its own transaction.

    async with Change(db, hub) as change:
        blog = await change.claim_offset(slug)      # locks the blog row, offset += 1
        ...                                          # change rows through change.session
        change.append(blog, events.entry_created(entry))  # app/domain/events.py
    # committed; only now is the event handed to the hub

Postgres serialises writers of one blog on the row lock taken by the UPDATE; SQLite has one
writer at a time anyway (see db.py). Either way offsets are unique and gapless, because
a rolled-back transaction takes its offset with it.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import Blog, Event, new_epoch
from app.ops.metrics import EVENTS_PUBLISHED
from app.store import entry_index
from app.store.db import Database

log = logging.getLogger("liveupdates.events")


class Publisher(Protocol):
    def publish(self, event: "LoggedEvent") -> None: ...


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    blog_id: int
    offset: int
    type: str
    data: bytes


def encode(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


class _Abandoned(Exception):
    pass


class Change:
    """One write transaction whose events are published after, and only after, it commits."""

    def __init__(self, db: Database, publisher: Publisher) -> None:
        self._db = db
        self._publisher = publisher
        # Each event with its log line: type, then blog, offset and entry id.
        self._events: list[tuple[LoggedEvent, str, dict[str, Any]]] = []
        self._indexed: list[tuple[int, str, dict[str, Any]]] = []  # entry_index.follow's
        self._abandoned = False

    async def __aenter__(self) -> Self:
        self._context = self._db.write()
        self.session: AsyncSession = await self._context.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and self._abandoned:
            # Leave as if by an error, so the transaction rolls back.
            await self._context.__aexit__(_Abandoned, _Abandoned(), None)
            return
        if exc is None and self._indexed:
            try:
                await entry_index.follow(self.session, self._indexed)
            except BaseException as error:
                await self._context.__aexit__(type(error), error, error.__traceback__)
                raise
        await self._context.__aexit__(exc_type, exc, tb)
        if exc is None:
            for event, kind, fields in self._events:
                self._publisher.publish(event)
                log.info(kind, extra=fields)
            EVENTS_PUBLISHED.inc(len(self._events))

    async def claim_offset(self, slug: str) -> Blog | None:
        """Lock the blog for this transaction and take its next offset."""
        blog: Blog | None = await self.session.scalar(
            update(Blog)
            .where(col(Blog.slug) == slug)
            .values(last_offset=col(Blog.last_offset) + 1)
            .returning(Blog)
            .execution_options(populate_existing=True)
        )
        return blog

    async def lock(self, slug: str) -> Blog | None:
        """Lock the blog for this transaction without taking an offset (for changes that
        readers never see, such as drafts); `claim_offset` may follow."""
        blog: Blog | None = await self.session.scalar(
            select(Blog)
            .where(col(Blog.slug) == slug)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return blog

    def append(self, blog: Blog, event: dict[str, Any]) -> bytes:
        """Log `event` at the offset this transaction claimed; returns its wire bytes."""
        assert blog.id is not None
        data = encode({"type": event["type"], "offset": blog.last_offset, **event})
        entry = event.get("entry")
        entry_id = entry["id"] if isinstance(entry, dict) else event.get("entry_id")
        self.session.add(
            Event(
                blog_id=blog.id,
                offset=blog.last_offset,
                type=event["type"],
                entry_id=entry_id,
                data=data.decode(),
            )
        )
        fields = {"blog": blog.slug, "offset": blog.last_offset, "entry_id": entry_id}
        if entry_id is not None:
            self._indexed.append((blog.id, blog.language, event))
        logged = LoggedEvent(blog.id, blog.last_offset, event["type"], data)
        self._events.append((logged, event["type"], fields))
        return data

    def abandon(self) -> None:
        """Roll the transaction back when the block ends: nothing changed after all."""
        self._abandoned = True


async def read_events(
    session: AsyncSession, blog_id: int, after: int, limit: int, upto: int | None = None
) -> Sequence[LoggedEvent]:
    """Events of a blog with offset > `after` (and <= `upto`), oldest first."""
    query = select(col(Event.offset), col(Event.type), col(Event.data)).where(
        col(Event.blog_id) == blog_id, col(Event.offset) > after
    )
    if upto is not None:
        query = query.where(col(Event.offset) <= upto)
    rows = await session.execute(query.order_by(col(Event.offset)).limit(limit))
    return [LoggedEvent(blog_id, offset, type_, data.encode()) for offset, type_, data in rows]


async def renew_epochs(db: Database) -> None:
    """Give every blog's stream a new epoch (after a restore: its log may restart below
    offsets readers have seen). Readers resuming with the old one are told to start over."""
    async with db.write() as session:
        ids = (await session.scalars(select(col(Blog.id)))).all()
        for blog_id in ids:
            await session.execute(
                update(Blog).where(col(Blog.id) == blog_id).values(epoch=new_epoch())
            )
