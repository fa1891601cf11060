"""Fan-out of committed events to the readers of each blog, strictly in offset order.

Commit order and publish order can differ (two coroutines, two instances, a broker), and a
broker can drop a message. So each blog's channel remembers the last offset it delivered,
holds an early event briefly, and reads a missing one from the event log if it does not
come. Readers therefore see every offset once, in order, whatever the broker did.

An event is encoded once, as a `Frame`, and the same bytes go to every reader. Delivery
never awaits a reader: a reader takes the frame or is dropped (see readers.py).

A channel loads itself: the first reader to arrive starts the load, but the load is the
channel's task, so no reader's departure, cancellation or error can refuse the others.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from app.domain.events import EventType
from app.domain.models import Blog, BlogPublic
from app.live.broker import Broker
from app.live.wire import Frame
from app.ops.metrics import DELIVERIES, READERS
from app.ops.outages import DATABASE
from app.store.db import Database
from app.store.eventlog import LoggedEvent, read_events

log = logging.getLogger("liveupdates.hub")

REPLAY_PAGE = 500
# Recent frames kept per blog: readers resuming after a blip replay from memory.
HISTORY = 256


def _count(channel: "Channel", reader: object, change: int) -> None:
    kind = getattr(reader, "kind", None)  # readers of people; the page cache's watcher has none
    if kind is not None:
        READERS.labels(kind).inc(change)
        if getattr(reader, "in_audience", True):  # not the newsroom's own view
            channel.people += change


class Reader(Protocol):
    sent: int  # the last offset handed to this reader

    def deliver(self, frame: Frame) -> None:
        """Take the frame now, without awaiting anything."""

    def notify(self, frame: Frame) -> None:
        """Take a notice (no offset, not logged) if there is room; never awaits."""


class _Follower:
    """A reader that takes nothing: it keeps a channel open for `Hub.follow`."""

    sent = 0

    def deliver(self, frame: Frame) -> None:
        pass

    def notify(self, frame: Frame) -> None:
        pass


_FOLLOWER = _Follower()


class Channel:
    """One blog's readers, its delivery position, its latest state and recent events."""

    def __init__(self, hub: "Hub", blog_id: int) -> None:
        self.hub = hub
        self.blog_id = blog_id
        self.readers: set[Reader] = set()
        self.people = 0  # readers that are people (WebSocket or SSE), not followers
        self.last: int | None = None  # the last offset delivered; None until known
        self.pending: dict[int, Frame] = {}
        self.blog: dict[str, Any] = {}  # the blog as of `last`, as the API shows it
        self.recent: deque[Frame] = deque(maxlen=HISTORY)  # consecutive, up to `last`
        self._filler: asyncio.Task[None] | None = None
        self.loading: asyncio.Task[None] | None = None  # the first join's load, shared

    def start(self, last: int, blog: dict[str, Any], history: list[Frame]) -> None:
        if self.last is None:
            self.last = last
            self.blog = blog
            for frame in self.pending.values():  # offered before the epoch was known
                frame.epoch = self.epoch
            self.recent.extend(history)
            self._drain()

    @property
    def epoch(self) -> str:
        """The stream its offsets count in ("" until loaded)."""
        epoch: str = self.blog.get("epoch", "")
        return epoch

    def history(self, after: int, upto: int) -> list[Frame] | None:
        """Frames in (after, upto] from memory, or None when they are not all there."""
        recent = self.recent
        if after >= upto:
            return []
        if not recent or recent[0].offset > after + 1 or recent[-1].offset < upto:
            return None
        return [frame for frame in recent if after < frame.offset <= upto]

    def offer(self, frame: Frame) -> None:
        if self.last is not None and frame.offset <= self.last:
            return
        self.pending[frame.offset] = frame
        self._drain()

    def _drain(self) -> None:
        if self.last is None:
            return
        pending = self.pending
        while pending:
            frame = pending.pop(self.last + 1, None)
            if frame is None:
                break
            self.last = frame.offset
            self.recent.append(frame)
            if frame.type == EventType.BLOG_UPDATED:
                self.blog = orjson.loads(frame.data)["blog"]
            readers = tuple(self.readers)
            DELIVERIES.inc(len(readers))
            for reader in readers:
                reader.deliver(frame)
        for offset in [o for o in pending if o <= self.last]:
            del pending[offset]
        if pending:
            self.fill_soon(self.hub.hold_seconds)

    def fill_soon(self, delay: float, upto: int | None = None) -> None:
        """Fetch what is missing from the event log unless it arrives within `delay`."""
        if self._filler is None or self._filler.done():
            self._filler = asyncio.create_task(self._fill(delay, upto))

    async def _fill(self, delay: float, upto: int | None) -> None:
        await asyncio.sleep(delay)
        try:
            while self.last is not None and self.readers:
                target = min(self.pending) - 1 if self.pending else upto
                if target is None or target <= self.last:
                    return
                async with self.hub.db.read() as session:
                    events = await read_events(
                        session, self.blog_id, self.last, REPLAY_PAGE, upto=target
                    )
                if not events:
                    log.warning("blog %s: offsets %s..%s missing", self.blog_id, self.last, target)
                    return
                for event in events:
                    self.pending.setdefault(event.offset, Frame.of(event, self.epoch))
                self.hub.filled += len(events)
                self._drain()  # (its own refill is a no-op: this task is the filler)
        except Exception as error:
            if isinstance(error, SQLAlchemyError | OSError):
                DATABASE.failed(f"filling a gap in blog {self.blog_id}", error)
            else:
                log.exception("blog %s: filling a gap from the event log failed", self.blog_id)
            self._filler = None
            self.fill_soon(1.0, upto)

    async def load(self) -> None:
        """Read the blog and its recent events; every reader joining meanwhile waits on it."""
        async with self.hub.db.read() as session:
            blog = await session.get(Blog, self.blog_id)
            if blog is None:
                raise LookupError(f"no blog {self.blog_id}")
            last = blog.last_offset
            events = await read_events(
                session, self.blog_id, max(0, last - HISTORY), HISTORY, upto=last
            )
        self.start(
            last,
            BlogPublic.of(blog).model_dump(mode="json"),
            [Frame.of(e, blog.epoch) for e in events],
        )

    def close(self) -> None:
        if self._filler is not None:
            self._filler.cancel()


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
        self.hold_seconds = hold_seconds
        self.catchup_seconds = catchup_seconds
        self.channels: dict[int, Channel] = {}
        self.slugs: dict[str, int] = {}
        self.unknown_slug_seconds = unknown_slug_seconds
        self._unknown: dict[str, float] = {}  # slug -> until when it is known not to exist
        self._lookups: dict[str, asyncio.Future[int | None]] = {}
        self.filled = 0  # events read from the log because the broker did not bring them
        self._catchup: asyncio.Task[None] | None = None
        # Readers per blog on every instance, as app/live/audience.py last counted them.
        self.audience_totals: dict[int, int] = {}
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self.broker.start(self._received, self.catch_up)
        self._catchup = asyncio.create_task(self._catch_up_forever())

    async def stop(self) -> None:
        self._stopping.set()
        if self._catchup is not None:
            # Let a catch-up in progress finish its query rather than cut it off mid-way.
            with contextlib.suppress(asyncio.CancelledError):
                await self._catchup
        for channel in self.channels.values():
            channel.close()
        await self.broker.stop()

    def publish(self, event: LoggedEvent) -> None:
        """Called once a change has committed: deliver here, and tell the other instances."""
        self._received(event)
        self.broker.publish(event)

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
            channel = self.channels[blog_id] = Channel(self, blog_id)
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
            if self.channels.get(channel.blog_id) is channel:
                del self.channels[channel.blog_id]
            channel.close()
        elif not channel.readers and self.channels.get(channel.blog_id) is channel:
            channel.close()  # everyone left while it loaded
            del self.channels[channel.blog_id]

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
        if not channel.readers and self.channels.get(channel.blog_id) is channel:
            channel.close()
            del self.channels[channel.blog_id]

    def reader_count(self) -> int:
        return sum(len(c.readers) for c in self.channels.values())

    def audience(self) -> dict[int, int]:
        """Readers (people) per blog on this instance, for the blogs that have any."""
        return {blog_id: c.people for blog_id, c in self.channels.items() if c.people > 0}

    def notify(self, blog_id: int, frame: Frame) -> int:
        """Hand a notice to every reader of the blog here; returns how many took it."""
        channel = self.channels.get(blog_id)
        if channel is None or channel.last is None:
            return 0
        readers = tuple(channel.readers)
        for reader in readers:
            reader.notify(frame)
        return len(readers)

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

    async def _catch_up_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.catchup_seconds)
                return
            try:
                await self.catch_up()
            except (SQLAlchemyError, OSError) as error:
                DATABASE.failed("catching up with the event log", error)
            except Exception:
                log.exception("catching up with the event log failed")
            else:
                DATABASE.answered()
