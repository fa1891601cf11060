"""Readers of a blog's events, each bounded in bytes and never awaited by the publisher.

`TransportReader` writes the event's pre-built wire form (a WebSocket frame, compressed or
not, or a Server-Sent Event) straight to the connection's asyncio transport, the cheapest
delivery there is; the transport's write buffer is the backlog, bounded by `limit`.
`QueueReader` keeps a bounded queue for a task that awaits
the ASGI send: SSE, and WebSockets where no transport can be reached (test clients,
other ASGI servers). Either way, a reader past its bound is dropped, not waited for; it
comes back with the last offset it saw and resumes.
"""

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable

from app.live.wire import (
    NOTICE,
    SLOW_READER_REASON,
    Batch,
    CloseCode,
    Frame,
    Frames,
    close_frame,
    plain_websocket,
)
from app.ops.metrics import SLOW_READERS

# The kernel's receive buffer of a reader's socket (it doubles it): pongs and closes.
RECEIVE_BUFFER = 8 * 1024
# A dropped reader gets this long for the close frame to leave before the socket is cut.
CLOSE_GRACE_SECONDS = 2.0
_SLOW_READER_CLOSE = close_frame(CloseCode.SLOW_READER, SLOW_READER_REASON)


class TransportReader:
    """`wire` picks the form of each frame this reader takes; `kind` names it in metrics;
    `in_audience`: whether it counts as a person reading (app/live/audience.py)."""

    __slots__ = (
        "transport", "limit", "sent", "dropped", "wire", "kind", "in_audience", "_held",
        "_held_bytes", "_taken",
    )  # fmt: skip

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        limit: int,
        wire: Callable[[Frames], bytes] = plain_websocket,
        kind: str = "websocket",
        in_audience: bool = True,
    ) -> None:
        # The kernel's buffers are backlog too. Left alone, Linux grows the send buffer to
        # megabytes for a reader that stopped reading before `limit` is ever reached; a
        # quarter of the limit (the kernel doubles it) is plenty for a live blog's few KB
        # per entry. A reader sends control frames only: a small receive buffer suffices.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limit // 4)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.transport = transport
        self.limit = limit
        self.sent = 0
        self.dropped = False
        self.wire = wire
        self.kind = kind
        self.in_audience = in_audience
        self._held: list[Frames] | None = []  # live frames that arrive during the replay
        self._held_bytes = 0
        self._taken = 0  # the last offset held

    def deliver(self, frames: Frames) -> None:
        """Take these frames (those it has not had yet) in one write."""
        if self.dropped:
            return
        if self._held is not None:
            mark = max(self.sent, self._taken)
            if frames.offset > mark:
                frames = frames.after(mark) if frames.first <= mark else frames
                self._taken = frames.offset
                self._held.append(frames)
                self._held_bytes += frames.size
                if self._held_bytes > self.limit:
                    self.drop()
            return
        if frames.offset > self.sent:
            self._write(frames.after(self.sent) if frames.first <= self.sent else frames)

    def notify(self, frame: Frame) -> None:
        """A notice (no offset): written when there is room, else skipped, never queued
        behind a replay; it is not worth dropping a reader for."""
        if self.dropped or self._held is not None:
            return
        transport = self.transport
        data = self.wire(frame)
        if (
            not transport.is_closing()
            and transport.get_write_buffer_size() + len(data) <= self.limit
        ):
            transport.write(data)

    def _write(self, frames: Frames) -> None:
        transport = self.transport
        if transport.is_closing():
            self.dropped = True
            return
        data = self.wire(frames)
        if transport.get_write_buffer_size() + len(data) > self.limit:
            self.drop()
            return
        transport.write(data)
        self.sent = frames.offset

    def go_live(self) -> None:
        """The replay is sent: write what arrived meanwhile (in one write), then write as
        frames come."""
        held, self._held = self._held or [], None
        waiting = [f for frames in held for f in frames.frames if f.offset > self.sent]
        if waiting and not self.dropped:
            self._write(Batch.of(waiting))

    def drop(self) -> None:
        if not self.dropped:
            SLOW_READERS.inc()
            self._close(_SLOW_READER_CLOSE)

    def end(self, code: int, reason: str) -> None:
        if not self.dropped:
            self._close(close_frame(code, reason))

    def _close(self, websocket_close: bytes) -> None:
        self.dropped = True
        transport = self.transport
        if not transport.is_closing():
            if self.kind == "websocket":
                transport.write(websocket_close)
            transport.close()  # once what is buffered has left; cut off if it does not
            asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, transport.abort)


class QueueReader:
    def __init__(self, limit: int, kind: str, in_audience: bool = True) -> None:
        self.kind = kind  # "sse", or "websocket" where no transport could be reached
        self.in_audience = in_audience
        self.limit = limit
        self.sent = 0
        self.dropped = False
        self.closing: tuple[int, str] | None = None  # `end`'s code and reason, once ended
        self._queue: deque[Frame] = deque()
        self._taken = 0  # the last offset queued
        self._bytes = 0
        self._ready = asyncio.Event()

    def deliver(self, frames: Frames) -> None:
        mark = max(self.sent, self._taken)
        if self.dropped or frames.offset <= mark:
            return
        fresh = [f for f in frames.frames if f.offset > mark]
        self._taken = frames.offset
        self._bytes += sum(len(f.data) for f in fresh)
        if self._bytes > self.limit:
            self.drop()
            return
        self._queue.extend(fresh)
        self._ready.set()

    def notify(self, frame: Frame) -> None:
        if self.dropped or self._bytes + len(frame.data) > self.limit:
            return
        self._bytes += len(frame.data)
        self._queue.append(frame)
        self._ready.set()

    def drop(self) -> None:
        if not self.dropped:
            SLOW_READERS.inc()
        self.dropped = True
        self._queue.clear()
        self._ready.set()

    def end(self, code: int, reason: str) -> None:
        if not self.dropped:
            self.closing = (code, reason)
            self._ready.set()

    def go_live(self) -> None:
        """Nothing to do: live frames wait in the queue, and `next_batch` skips old ones."""

    async def next_batch(self) -> list[Frame] | None:
        """The frames to send next, in order; None once the reader has been dropped, or
        ended (`closing`) and everything before the end is sent."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self.dropped:
                return None
            batch = [f for f in self._queue if f.offset > self.sent or f.offset == NOTICE]
            self._queue.clear()
            self._bytes = 0
            if batch:
                self.sent = max(self.sent, max(f.offset for f in batch))
                if self.closing is not None:
                    self._ready.set()  # the end comes next
                return batch
            if self.closing is not None:
                self.dropped = True
                return None
