"""Fan-out of committed events to the readers of each blog, strictly in offset order.

Commit order and publish order can differ (two coroutines, two instances, a broker), and a
broker can drop a message. So each blog's channel remembers the last offset it delivered,
holds an early event briefly, and reads a missing one from the event log if it does not
come. Readers therefore see every offset once, in order, whatever the broker did.

An event is encoded once, as a `Frame`, and the same bytes go to every reader. Delivery
never awaits a reader: a reader takes the frame or is dropped (see readers.py).

Each blog's channel (channel.py) delivers in order. A channel loads itself: the first
reader to arrive starts the load, but the load is the channel's task, so no reader's
departure, cancellation or error can refuse the others.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app.domain.models import Blog
from app.live.broker import Broker
from app.live.channel import Channel, Reader
from app.live.desk import Desk
from app.live.wire import Frame, Frames
from app.ops.metrics import READERS
from app.ops.tasks import Every
from app.store.db import Database
from app.store.eventlog import LoggedEvent

log = logging.getLogger("liveupdates.hub")


def _count(channel: Channel, reader: Reader, change: int) -> None:
    if reader.kind is not None:
        READERS.labels(reader.kind).inc(change)
        if reader.in_audience:
            channel.people += change


class _Follower:
    """A reader that takes nothing: it keeps a channel open for `Hub.follow`."""

    sent = 0
    kind = None
    in_audience = False

    def deliver(self, frames: Frames) -> None:
        pass

    def notify(self, frame: Frame) -> None:
        pass

    def end(self, code: int, reason: str) -> None:
        pass


_FOLLOWER = _Follower()
# Readers handed a notice between two turns of the event loop.
NOTICE_SLICE = 256


class Hub:
    """The readers of every blog on this instance, fed by this instance and the broker."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        hold_seconds: float = 0.1,
        catchup_seconds: float = 2.0,
        unknown_slug_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.desk = Desk(broker)  # the newsroom's, fed by the same broker
        self.hold_seconds = hold_seconds
        self.catchup_seconds = catchup_seconds
        self.channels: dict[int, Channel] = {}
        # Told the blog of each change made here, once committed; never awaited.
        self.on_change: list[Callable[[int], None]] = []
        self.slugs: dict[str, int] = {}
        self.unknown_slug_seconds = unknown_slug_seconds
        self._unknown: dict[str, float] = {}  # slug -> until when it is known not to exist
        self._lookups: dict[str, asyncio.Future[int | None]] = {}
        self.filled = 0  # events read from the log because the broker did not bring them
        self._catchup = Every(
            "catching up with the event log", catchup_seconds, self.catch_up, wait_first=True
        )
        # Readers per blog on every instance, as app/live/audience.py last counted them.
        self.audience_totals: dict[int, int] = {}
        # The results of each blog's polls, as app/live/polls.py last counted them, and how
        # many times they changed here (pages with polls are rendered anew when they do).
        self.poll_results: dict[int, dict[str, Any]] = {}
        self.polls_seen: dict[int, int] = {}

    async def start(self) -> None:
        await self.broker.start(self._received, self._reconnected, self.desk.heard)
        self._catchup.start()

    async def _reconnected(self) -> None:
        self.desk.missed_some()
        await self.catch_up()

    async def stop(self) -> None:
        await self._catchup.stop()
        for channel in self.channels.values():
            channel.close()
        await self.broker.stop()

    def _filled(self, events: int) -> None:
        self.filled += events

    def publish(self, event: LoggedEvent) -> None:
        """Called once a change has committed: deliver here, and tell the other instances
        (and whatever follows this instance's changes: `on_change`)."""
        self._received(event)
        self.broker.publish(event)
        for told in self.on_change:
            told(event.blog_id)

    def _received(self, event: LoggedEvent) -> None:
        channel = self.channels.get(event.blog_id)
        if channel is not None:
            channel.offer(Frame.of(event, channel.epoch))

    async def join(self, blog_id: int, reader: Reader) -> int:
        """Deliver the blog's events to `reader` from now on, until `leave`.

        Returns the offset from which delivery starts: every event after it reaches the
        reader, in order; every event up to it is already in the event log.
        """
        channel = self.channels.get(blog_id)
        if channel is None:
            channel = self.channels[blog_id] = Channel(
                blog_id, self.db, self.hold_seconds, self._filled
            )
            channel.subscribed = self.broker.watch(blog_id)
        if channel.last is None and channel.loading is None:
            channel.loading = asyncio.ensure_future(channel.load())
            channel.loading.add_done_callback(lambda task: self._loaded(channel, task))
        channel.readers.add(reader)
        _count(channel, reader, +1)
        try:
            if channel.last is None:
                assert channel.loading is not None
                # Shielded: this reader may go, the load goes on for the others.
                await asyncio.shield(channel.loading)
        except BaseException:
            self._leave(channel, reader)
            raise
        assert channel.last is not None
        return channel.last

    def _loaded(self, channel: Channel, task: "asyncio.Task[None]") -> None:
        if task.cancelled() or task.exception() is not None:
            # Those waiting see the error; the next reader to come tries again afresh.
            self._drop(channel)
        elif not channel.readers:
            self._drop(channel)  # everyone left while it loaded

    def _drop(self, channel: Channel) -> None:
        """The channel has no reader left (or could not load): close it, stop listening."""
        if self.channels.get(channel.blog_id) is channel:
            del self.channels[channel.blog_id]
            self.broker.unwatch(channel.blog_id)
        channel.close()

    async def resolve(self, slug: str) -> int | None:
        """The id of the blog with this slug (slugs never change, so it is remembered).

        Concurrent calls for one slug share one query: a surge of readers arriving at once
        must not become a surge of identical queries.
        """
        blog_id = self.slugs.get(slug)
        if blog_id is not None:
            return blog_id
        unknown_until = self._unknown.get(slug)
        if unknown_until is not None:
            if time.monotonic() < unknown_until:
                return None
            del self._unknown[slug]
        lookup = self._lookups.get(slug)
        if lookup is None:
            lookup = self._lookups[slug] = asyncio.ensure_future(self._lookup(slug))
            lookup.add_done_callback(lambda _: self._lookups.pop(slug, None))
        return await asyncio.shield(lookup)

    async def _lookup(self, slug: str) -> int | None:
        async with self.db.read() as session:
            blog_id = await session.scalar(select(col(Blog.id)).where(col(Blog.slug) == slug))
        if blog_id is not None:
            self.slugs[slug] = blog_id
        elif self.unknown_slug_seconds > 0:
            if len(self._unknown) > 10_000:  # a scan of made-up slugs: start over
                self._unknown.clear()
            self._unknown[slug] = time.monotonic() + self.unknown_slug_seconds
        return blog_id

    def forget_unknown(self, slug: str) -> None:
        """A blog was created with this slug: readers of it are no longer refused here."""
        self._unknown.pop(slug, None)

    async def follow(self, blog_id: int) -> int:
        """Keep the blog's channel, and so its offset, current with no reader of its own
        (for the page cache); returns the offset."""
        return await self.join(blog_id, _FOLLOWER)

    def offset_of(self, blog_id: int) -> int | None:
        """The offset delivered on this instance, if the blog has readers or a follower."""
        channel = self.channels.get(blog_id)
        return channel.last if channel is not None else None

    def id_of(self, slug: str) -> int | None:
        """The blog's id, if this instance has looked the slug up already (no query)."""
        return self.slugs.get(slug)

    def blog(self, blog_id: int) -> dict[str, Any]:
        """The blog as of the offset its readers have been delivered (join first)."""
        return self.channels[blog_id].blog

    def history(self, blog_id: int, after: int, upto: int) -> list[Frame] | None:
        channel = self.channels.get(blog_id)
        return channel.history(after, upto) if channel is not None else None

    def leave(self, blog_id: int, reader: Reader) -> None:
        channel = self.channels.get(blog_id)
        if channel is not None:
            self._leave(channel, reader)

    @contextlib.asynccontextmanager
    async def subscribe(self, blog_id: int, reader: Reader) -> AsyncIterator[int]:
        """`join` for the length of a block; yields where delivery starts."""
        position = await self.join(blog_id, reader)
        try:
            yield position
        finally:
            self.leave(blog_id, reader)

    def _leave(self, channel: Channel, reader: Reader) -> None:
        if reader in channel.readers:
            channel.readers.remove(reader)
            _count(channel, reader, -1)
        if not channel.readers:
            self._drop(channel)

    def reader_count(self) -> int:
        return sum(len(c.readers) for c in self.channels.values())

    def audience(self) -> dict[int, int]:
        """Readers (people) per blog on this instance, for the blogs that have any."""
        return {blog_id: c.people for blog_id, c in self.channels.items() if c.people > 0}

    async def notify(self, blog_id: int, frame: Frame) -> None:
        """Hand a notice to every reader of the blog here, `NOTICE_SLICE` readers at a
        time, so that an entry published meanwhile is not kept waiting behind all of them
        (a notice is the latest state, not an event: its order among events is free)."""
        channel = self.channels.get(blog_id)
        if channel is None or channel.last is None:
            return
        readers = tuple(channel.readers)
        for start in range(0, len(readers), NOTICE_SLICE):
            for reader in readers[start : start + NOTICE_SLICE]:
                reader.notify(frame)
            await asyncio.sleep(0)

    def blogs_here(self) -> dict[int, dict[str, Any]]:
        """The blogs with a channel on this instance, as of their latest event."""
        return {blog_id: c.blog for blog_id, c in self.channels.items() if c.last is not None}

    async def catch_up(self) -> None:
        """Bring every channel up to the event log: after a broker outage, and periodically,
        so that a dropped message is delivered even when no later event reveals the gap."""
        channels = [c for c in self.channels.values() if c.last is not None]
        if not channels:
            return
        async with self.db.read() as session:
            rows = await session.execute(
                select(col(Blog.id), col(Blog.last_offset)).where(
                    col(Blog.id).in_([c.blog_id for c in channels])
                )
            )
        latest = {blog_id: offset for blog_id, offset in rows}
        for channel in channels:
            target = latest.get(channel.blog_id)
            if target is not None and channel.last is not None and target > channel.last:
                # An event committed a moment ago may still be on its way: give it the
                # usual grace before reading it from the log.
                channel.fill_soon(self.hold_seconds, upto=target)
