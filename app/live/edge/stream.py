"""What readers' two socket protocols (WebSocket, SSE) share: joining the blog, the
replay, going live, heartbeats, and giving back their socket's place when they go."""

import asyncio
import logging
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.live.edge.lifecycle import moved
from app.live.joining import replay_pages, start_reading
from app.live.readers import TransportReader
from app.live.request import ReaderRequest, Refused
from app.live.wire import Batch, Frame, Frames
from app.services import Services

log = logging.getLogger("liveupdates.readers")


class StreamState(Enum):
    """Where a reader's connection is in its life; `ALLOWED` says where each may go."""

    HANDSHAKE = "answering the WebSocket upgrade"
    JOINING = "joining the blog (nothing written yet)"
    REPLAYING = "hello written; replaying what it missed"
    LIVE = "taking live events"
    CLOSING = "last words written; nothing more is read or written"
    CLOSED = "the connection is gone"


_S = StreamState
ALLOWED: dict[StreamState, frozenset[StreamState]] = {
    _S.HANDSHAKE: frozenset({_S.JOINING, _S.CLOSING, _S.CLOSED}),
    _S.JOINING: frozenset({_S.REPLAYING, _S.CLOSING, _S.CLOSED}),
    _S.REPLAYING: frozenset({_S.LIVE, _S.CLOSING, _S.CLOSED}),
    _S.LIVE: frozenset({_S.CLOSING, _S.CLOSED}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
# The reader may still send frames (pongs) and is beaten.
READING = frozenset({_S.JOINING, _S.REPLAYING, _S.LIVE})
# Admitted, not yet live: counted as joining (the pressure that paces reader connects).
ARRIVING = frozenset({_S.HANDSHAKE, _S.JOINING, _S.REPLAYING})


def in_writes(frames: list[Frame], most: int) -> Iterator[Frames]:
    """`frames` in runs of up to `most` bytes (a frame longer than that alone): what a
    resuming reader missed goes out in a few writes, not one per event."""
    run: list[Frame] = []
    size = 0
    for frame in frames:
        if run and size + len(frame.data) > most:
            yield Batch.of(run)
            run, size = [], 0
        run.append(frame)
        size += len(frame.data)
    if run:
        yield Batch.of(run)


class StreamProtocol(asyncio.Protocol):
    """A reader's socket once its request is known to be a reader's.

    The socket was counted against its address when it was accepted; it is given back in
    `connection_lost`. Subclasses frame what is written: `accepted`, `refused`, `wire`.
    """

    __slots__ = (
        "services", "server_state", "transport", "address", "reader", "blog_id", "starting",
        "beat", "state", "_writable",
    )  # fmt: skip
    kind = ""
    INITIAL = StreamState.JOINING

    def __init__(self, services: Services, server_state: Any, address: str | None) -> None:
        self.services = services
        self.server_state = server_state
        self.address = address  # counted in services.admission until connection_lost
        self.transport: asyncio.Transport | None = None
        self.reader: TransportReader | None = None
        self.blog_id: int | None = None
        self.starting: asyncio.Task[None] | None = None
        self.beat = -1  # the heartbeat slice this reader is in
        self.state = self.INITIAL
        self._writable: asyncio.Future[None] | None = None
        services.admission.joining += 1

    def to(self, state: StreamState) -> None:
        """Move on in the connection's life (checked against `ALLOWED`)."""
        state = moved(ALLOWED, self.state, state, f"a {self.kind} reader")
        if self.state in ARRIVING and state not in ARRIVING:
            self.services.admission.joining -= 1
        self.state = state

    def in_state(self, state: StreamState) -> bool:
        """(What an await may have changed: no narrowing by the type checker.)"""
        return self.state is state

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)

    # --- joining the blog -------------------------------------------------------------------

    def begin(self, request: ReaderRequest | Refused) -> None:
        """Join the blog `request` names, or tell the reader why it cannot."""
        self.beat = self.services.heartbeat.add(self)
        self.starting = asyncio.get_running_loop().create_task(self._start(request))
        self.starting.add_done_callback(self._started)

    def wire(self) -> Callable[[Frames], bytes]:
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

    async def _start(self, request: ReaderRequest | Refused) -> None:
        transport = self.transport
        assert transport is not None
        if isinstance(request, Refused):
            return self.refused(request)
        state = self.services
        limit = state.settings.reader_buffer_bytes
        wire = self.wire()
        reader = TransportReader(transport, limit, wire, self.kind, request.in_audience)
        try:
            blog_id, position, greeting = await start_reading(state.hub, state.db, request, reader)
        except Refused as refused:
            return self.refused(refused)
        self.reader, self.blog_id = reader, blog_id
        if self.state is not StreamState.JOINING:  # gone, or told to go, while joining
            state.hub.leave(blog_id, reader)
            return
        self.to(StreamState.REPLAYING)
        self.accepted(greeting)
        if request.since is not None:
            pages = replay_pages(state.db, state.hub, blog_id, request.since, position)
            async for page in pages:
                for frames in in_writes(page, limit // 4):
                    await self._drain(limit // 2)
                    if not self.in_state(StreamState.REPLAYING) or transport.is_closing():
                        return
                    transport.write(wire(frames))
                    reader.sent = frames.offset
        if self.in_state(StreamState.REPLAYING):
            self.to(StreamState.LIVE)
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
        if transport is None or self.state in (StreamState.CLOSING, StreamState.CLOSED):
            return
        self.to(StreamState.CLOSING)
        if transport.is_closing():
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
        self.to(StreamState.CLOSED)
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
