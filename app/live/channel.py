"""One blog's channel: its readers, delivery strictly in offset order, the blog's latest
state and its recent events (app/live/hub.py keeps a channel per blog).

Commit order and publish order can differ, and a broker can drop a message: the channel
remembers the last offset it delivered, holds an early event briefly, and reads a missing
one from the event log if it does not come.

Delivery is a sweep over the readers, started on the loop's next turn (so that events
arriving together, a burst from the broker or a page read from the log, go out together)
and made `SWEEP_SLICE` readers at a time with a turn of the event loop between slices, so
that a post (or a broker message) arriving meanwhile is not kept waiting behind tens of
thousands of writes. Each reader is written everything it lacks at once: when events
come faster than a sweep (a burst, a gap filled from the log), a reader gets k frames in one
write, and the readers swept again take only what they have not had.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from sqlalchemy.exc import SQLAlchemyError

from app.domain.events import EventType
from app.domain.models import Blog
from app.domain.shapes.blogs import BlogPublic
from app.live.wire import ARCHIVED_REASON, Batch, CloseCode, Frame, Frames
from app.ops.metrics import DELIVERIES
from app.ops.outages import DATABASE
from app.store.db import Database
from app.store.eventlog import read_events

log = logging.getLogger("liveupdates.hub")

REPLAY_PAGE = 500
# Recent frames kept per blog: readers resuming after a blip replay from memory.
HISTORY = 256
# How long a channel's load waits for the broker to listen to the blog.
SUBSCRIBE_SECONDS = 2.0
# Readers written between two turns of the event loop (~10 ms of writes). Smaller slices
# let more of a burst join a sweep but cost the last reader time (64: +20 % at 10,000
# readers; 1,024: as fast as writing them all at once; bench/README.md "Tenth session").
SWEEP_SLICE = 1024


class Reader(Protocol):
    """What the hub reads of a reader, and what it calls."""

    sent: int  # the last offset handed to this reader

    @property
    def kind(self) -> str | None:
        """ "websocket" or "sse": a person's; None: the page cache's follower."""

    @property
    def in_audience(self) -> bool:
        """Whether it counts in the blog's audience (the newsroom's own view does not)."""

    def deliver(self, frames: Frames) -> None:
        """Take the frames it has not had yet (consecutive offsets) now, in one write,
        without awaiting anything; the same frames may be offered again."""

    def notify(self, frame: Frame) -> None:
        """Take a notice (no offset, not logged) if there is room; never awaits."""

    def end(self, code: int, reason: str) -> None:
        """Close once what was taken is sent (WebSockets: with this code); never awaits."""


class Channel:
    """One blog's readers, its delivery position, its latest state and recent events."""

    def __init__(
        self, blog_id: int, db: Database, hold_seconds: float, filled: Callable[[int], None]
    ) -> None:
        self.blog_id = blog_id
        self.db = db
        self.hold_seconds = hold_seconds
        self.filled = filled  # told how many events were read from the log to fill a gap
        self.readers: set[Reader] = set()
        self.people = 0  # readers that are people (WebSocket or SSE), not followers
        self.last: int | None = None  # the last offset delivered; None until known
        self.pending: dict[int, Frame] = {}
        self.blog: dict[str, Any] = {}  # the blog as of `last`, as the API shows it
        self.recent: deque[Frame] = deque(maxlen=HISTORY)  # consecutive, up to `last`
        self._filler: asyncio.Task[None] | None = None
        self.loading: asyncio.Task[None] | None = None  # the first join's load, shared
        self.subscribed: asyncio.Future[None] | None = None  # the broker listens to it
        # The sweep: frames not yet written to every reader, the readers of the pass under
        # way and how far it got, the offset that archived the blog (its readers are ended).
        self._outgoing: list[Frame] = []
        self._pass: tuple[Reader, ...] = ()
        self._swept = 0
        self._pass_upto = 0
        self._sweep: asyncio.Handle | None = None
        self._frames: Frames | None = None  # the outgoing frames as one
        self._ending: int | None = None

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
        ready = 0
        while pending:
            frame = pending.pop(self.last + 1, None)
            if frame is None:
                break
            self.last = frame.offset
            self.recent.append(frame)
            self._outgoing.append(frame)
            ready += 1
            if frame.type == EventType.BLOG_UPDATED:
                self.blog = orjson.loads(frame.data)["blog"]
                self._ending = frame.offset if self.blog.get("archived_at") else None
        if ready:
            DELIVERIES.inc(ready * len(self.readers))
            if self._sweep is None:
                self._sweep = asyncio.get_running_loop().call_soon(self._sweep_slice)
        for offset in [o for o in pending if o <= self.last]:
            del pending[offset]
        if pending:
            self.fill_soon(self.hold_seconds)

    def _sweep_slice(self) -> None:
        """Write the next slice of readers what they lack; then come back for the next
        slice, or sweep again if frames came during this pass, or stop."""
        assert self.last is not None
        if self._swept >= len(self._pass):
            self._pass, self._swept, self._pass_upto = tuple(self.readers), 0, self.last
        outgoing = self._outgoing
        frames = self._frames
        if frames is None or frames.offset != self.last:
            frames = self._frames = Batch.of(outgoing)
        ending = self._ending
        end = self._swept + SWEEP_SLICE
        for reader in self._pass[self._swept : end]:
            reader.deliver(frames)
            if ending is not None:  # told by the event; now closed, not to come back
                reader.end(CloseCode.ARCHIVED, ARCHIVED_REASON)
        self._swept = end
        loop = asyncio.get_running_loop()
        if end < len(self._pass) or self.last > self._pass_upto:
            self._sweep = loop.call_soon(self._sweep_slice)
        else:  # every reader has every frame
            self._sweep, self._pass, self._frames = None, (), None
            outgoing.clear()

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
                async with self.db.read() as session:
                    events = await read_events(
                        session, self.blog_id, self.last, REPLAY_PAGE, upto=target
                    )
                if not events:
                    log.warning("blog %s: offsets %s..%s missing", self.blog_id, self.last, target)
                    return
                for event in events:
                    self.pending.setdefault(event.offset, Frame.of(event, self.epoch))
                self.filled(len(events))
                self._drain()  # (its own refill is a no-op: this task is the filler)
        except Exception as error:
            if isinstance(error, SQLAlchemyError | OSError):
                DATABASE.failed(f"filling a gap in blog {self.blog_id}", error)
            else:
                log.exception("blog %s: filling a gap from the event log failed", self.blog_id)
            self._filler = None
            self.fill_soon(1.0, upto)

    async def load(self) -> None:
        """Read the blog and its recent events; every reader joining meanwhile waits on it.

        First the broker's subscription to the blog (bounded: a broker away is caught up
        with later), so that no event committed after the read is missed by both."""
        if self.subscribed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.subscribed), SUBSCRIBE_SECONDS)
        async with self.db.read() as session:
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
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep, self._pass, self._frames = None, (), None
            self._outgoing.clear()
