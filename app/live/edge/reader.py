"""What the two kinds of reader connection share: joining the blog, the replay, going live,
heartbeats, and giving back their socket's place when they go."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.live.joining import Refused, replay, start_reading
from app.live.readers import TransportReader
from app.live.wire import Frame
from app.services import Services

log = logging.getLogger("liveupdates.readers")


class Heartbeat:
    """Beats every reader once an interval (a ping, or an SSE comment).

    Readers are spread over slices beaten one after another, so that 30,000 readers cost a
    steady trickle rather than a burst that would hold up deliveries.
    """

    SLICES = 16

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.slices: list[set[ReaderConnection]] = [set() for _ in range(self.SLICES)]
        self._added = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: "ReaderConnection") -> int:
        """Start beating `connection`; returns its slice, for `discard`."""
        slice_ = self._added % self.SLICES
        self._added += 1
        self.slices[slice_].add(connection)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return slice_

    def discard(self, connection: "ReaderConnection", slice_: int) -> None:
        self.slices[slice_].discard(connection)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        tick = 0
        while any(self.slices):
            await asyncio.sleep(self.interval / self.SLICES)
            for connection in tuple(self.slices[tick % self.SLICES]):
                connection.heartbeat()
            tick += 1


class ReaderConnection(asyncio.Protocol):
    """A reader's socket once its request is known to be a reader's.

    The socket was counted against its address when it was accepted; it is given back in
    `connection_lost`. Subclasses frame what is written: `accepted`, `refused`, `wire`.
    """

    __slots__ = (
        "services", "server_state", "transport", "address", "reader", "blog_id", "starting",
        "beat", "in_audience", "_writable",
    )  # fmt: skip
    kind = ""

    def __init__(self, services: Services, server_state: Any, address: str | None) -> None:
        self.services = services
        self.server_state = server_state
        self.address = address  # counted in services.admission until connection_lost
        self.transport: asyncio.Transport | None = None
        self.reader: TransportReader | None = None
        self.blog_id: int | None = None
        self.starting: asyncio.Task[None] | None = None
        self.beat = -1  # the heartbeat slice this reader is in
        self.in_audience = True
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)

    # --- joining the blog -------------------------------------------------------------------

    def begin(self, slug: str, since: str | None) -> None:
        self.beat = self.services.heartbeat.add(self)
        self.starting = asyncio.get_running_loop().create_task(self._start(slug, since))
        self.starting.add_done_callback(self._started)

    def wire(self) -> Callable[[Frame], bytes]:
        """The form of events this reader takes."""
        raise NotImplementedError

    def accepted(self, greeting: bytes) -> None:
        """Joined: write what comes before the events (the hello)."""
        raise NotImplementedError

    def refused(self, refused: Refused) -> None:
        raise NotImplementedError

    def failed(self) -> None:
        """The blog could not be joined (the database is away): tell the reader to retry."""
        raise NotImplementedError

    async def _start(self, slug: str, since_raw: str | None) -> None:
        transport = self.transport
        assert transport is not None
        state = self.services
        limit = state.settings.reader_buffer_bytes
        wire = self.wire()
        reader = TransportReader(transport, limit, wire, self.kind, self.in_audience)
        try:
            blog_id, position, greeting, since = await start_reading(
                state.hub, state.db, slug, since_raw, reader
            )
        except Refused as refused:
            return self.refused(refused)
        self.reader, self.blog_id = reader, blog_id
        if self.transport is None:  # gone while joining: connection_lost saw no reader
            state.hub.leave(blog_id, reader)
            return
        self.accepted(greeting)
        if since is not None:
            async for frame in replay(state.db, state.hub, blog_id, since, position):
                await self._drain(limit // 2)
                if transport.is_closing():
                    return
                transport.write(wire(frame))
                reader.sent = frame.offset
        reader.go_live()

    def _started(self, task: asyncio.Task[None]) -> None:
        self.starting = None
        if not task.cancelled() and (error := task.exception()) is not None:
            if isinstance(error, SQLAlchemyError | OSError):
                log.warning("a reader could not join its blog: %r", error)
            else:
                log.error("a reader could not join its blog", exc_info=error)
            self.failed()

    async def _drain(self, below: int) -> None:
        """Wait while the transport holds more than `below` unsent bytes (replay only)."""
        transport = self.transport
        while transport is not None and not transport.is_closing():
            if transport.get_write_buffer_size() <= below:
                return
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable

    def pause_writing(self) -> None:
        """A reader's byte bound, not the transport's watermarks, decides."""

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # --- while reading ----------------------------------------------------------------------

    def write(self, data: bytes) -> bool:
        """Write `data` unless it would put the reader past its byte bound (then drop it)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        limit = self.services.settings.reader_buffer_bytes
        if transport.get_write_buffer_size() + len(data) > limit:
            if self.reader is not None:
                self.reader.drop()
            else:
                transport.abort()
            return False
        transport.write(data)
        return True

    def heartbeat(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        """uvicorn is stopping: tell the reader to come back elsewhere, and let it go."""
        raise NotImplementedError

    def close(self, last_words: bytes = b"") -> None:
        """Write `last_words`, then end the connection (cut off if they cannot leave)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.reader is not None:
            self.reader.dropped = True
        if last_words:
            transport.write(last_words)
        transport.close()
        asyncio.get_running_loop().call_later(2.0, transport.abort)

    # --- leaving ----------------------------------------------------------------------------

    def eof_received(self) -> bool | None:
        return False  # the reader is gone: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        state = self.services
        if self.starting is not None:
            self.starting.cancel()
        if self.reader is not None and self.blog_id is not None:
            self.reader.dropped = True
            state.hub.leave(self.blog_id, self.reader)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self.beat >= 0:
            state.heartbeat.discard(self, self.beat)
            self.beat = -1
        if self.transport is not None:
            state.admission.close(self.address)
        self.transport = None
