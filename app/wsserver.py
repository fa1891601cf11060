"""uvicorn's WebSocket protocol, specialised for readers (`--ws app.wsserver:ReaderProtocol`).

An idle reader should cost next to nothing, and thousands of them sit idle on a live blog.
A general WebSocket stack keeps per connection a parser, a message queue, locks and a task
running the ASGI app; a reader needs none of them. It is sent frames, and sends nothing but
pongs and a close. So for /ws/blogs/{slug} this protocol does the handshake itself, joins
the hub with a `TransportReader` (which writes pre-built frames to the transport), sends the
hello and the replay from a short-lived task, and then holds only a few slots per reader.
Every other WebSocket is handed to uvicorn's own implementation, unchanged.

Heartbeats are one task for all readers: each interval every reader is pinged, and one that
has not answered the previous ping is cut off.
"""

import asyncio
import base64
import hashlib
import logging
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.hub import websocket_frame
from app.limits import client_address
from app.live import Refused, origin_allowed, replay, start_reading
from app.readers import TransportReader, close_frame

log = logging.getLogger("liveupdates.readers")

PREFIX = "/ws/blogs/"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
GOING_AWAY = 1001
SERVICE_RESTART = 1012
MESSAGE_TOO_BIG = 1009
PROTOCOL_ERROR = 1002
PING = b"\x89\x00"
APP_STATE_KEY = "liveupdates_app"


def _http_error(status: str, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %b\r\nContent-Length: 0\r\nConnection: close\r\n%b\r\n" % (
        status.encode(),
        extra,
    )


def _accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


class Heartbeat:
    """Pings every reader once an interval; cuts off those that did not answer the last one.

    Readers are spread over slices pinged one after another, so that 30,000 readers cost a
    steady trickle of pings rather than a burst that would hold up deliveries.
    """

    SLICES = 16

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.slices: list[set[ReaderProtocol]] = [set() for _ in range(self.SLICES)]
        self._added = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, socket: "ReaderProtocol") -> int:
        """Start pinging `socket`; returns its slice, for `discard`."""
        slice_ = self._added % self.SLICES
        self._added += 1
        self.slices[slice_].add(socket)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return slice_

    def discard(self, socket: "ReaderProtocol", slice_: int) -> None:
        self.slices[slice_].discard(socket)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        tick = 0
        while any(self.slices):
            await asyncio.sleep(self.interval / self.SLICES)
            for socket in tuple(self.slices[tick % self.SLICES]):
                socket.heartbeat()
            tick += 1


class ReaderProtocol(asyncio.Protocol):
    __slots__ = (
        "config", "server_state", "app_state", "transport", "reader", "blog_id", "hub",
        "buffer", "open", "awaiting_pong", "starting", "_writable", "delegate", "beat", "address",
    )  # fmt: skip

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.transport: asyncio.Transport | None = None
        self.reader: TransportReader | None = None
        self.blog_id: int | None = None
        self.hub: Any = None
        self.buffer = b""
        self.open = False
        self.awaiting_pong = False
        self.starting: asyncio.Task[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self.delegate: asyncio.Protocol | None = None  # uvicorn's, for other WebSockets
        self.beat = -1  # the heartbeat slice this reader is pinged in
        self.address: str | None = None  # counted against the per-address limit while open

    # --- the handshake --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.delegate is not None:
            self.delegate.data_received(data)
            return
        if self.open:
            self._client_frames(data)
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        request_line, *header_lines = head.split("\r\n")
        target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else ""
        url = urlsplit(target)
        app = self.app_state.get(APP_STATE_KEY)
        if app is None or not url.path.startswith(PREFIX):
            self._hand_over(head.encode("latin-1") + b"\r\n\r\n")
            return
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._upgrade(app, unquote(url.path[len(PREFIX) :]), url.query, headers)

    def _hand_over(self, request: bytes) -> None:
        """Not a reader's socket: let uvicorn's own WebSocket implementation serve it.

        uvicorn makes this object the transport's protocol once we return, so from now on
        it passes every callback through to the delegate.
        """
        assert self.transport is not None
        self.delegate = WebSocketsSansIOProtocol(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        self.delegate.connection_made(self.transport)
        self.delegate.data_received(request + self.buffer)
        self.buffer = b""

    def eof_received(self) -> bool | None:
        return self.delegate.eof_received() if self.delegate is not None else None

    def _upgrade(self, app: Any, slug: str, query: str, headers: dict[str, str]) -> None:
        transport = self.transport
        assert transport is not None
        settings = app.state.settings
        key = headers.get("sec-websocket-key", "").encode()
        if headers.get("sec-websocket-version") != "13":
            transport.write(_http_error("426 Upgrade Required", b"Sec-WebSocket-Version: 13\r\n"))
            transport.close()
            return
        if len(key) != 24:
            transport.write(_http_error("400 Bad Request"))
            transport.close()
            return
        if not origin_allowed(headers.get("origin"), headers.get("host"), settings):
            transport.write(_http_error("403 Forbidden"))
            transport.close()
            return
        peer = (transport.get_extra_info("peername") or ("",))[0]
        address = client_address(peer, headers.get("x-forwarded-for"), settings.trusted_proxies)
        if not app.state.sockets.acquire(address):
            transport.write(_http_error("429 Too Many Requests", b"Retry-After: 30\r\n"))
            transport.close()
            return
        self.address = address
        transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: %b\r\n\r\n" % _accept_key(key)
        )
        self.open = True
        self.server_state.connections.add(self)
        heartbeat: Heartbeat = app.state.heartbeat
        self.beat = heartbeat.add(self)
        since = parse_qs(query, keep_blank_values=True).get("since", [None])[-1]
        self.starting = asyncio.get_running_loop().create_task(self._start(app, slug, since))
        self.starting.add_done_callback(self._started)
        if self.buffer:
            self._client_frames(b"")

    # --- joining the blog -------------------------------------------------------------------

    async def _start(self, app: Any, slug: str, since_raw: str | None) -> None:
        transport = self.transport
        assert transport is not None
        settings, db, hub = app.state.settings, app.state.db, app.state.hub
        reader = TransportReader(transport, settings.reader_buffer_bytes)
        try:
            blog_id, position, greeting, since = await start_reading(
                hub, db, slug, since_raw, reader
            )
        except Refused as refused:
            return self.close(refused.code, refused.reason)
        self.reader, self.blog_id, self.hub = reader, blog_id, hub
        if self.transport is None:  # gone while joining: connection_lost saw no reader
            hub.leave(blog_id, reader)
            return
        transport.write(websocket_frame(greeting))
        if since is not None:
            async for frame in replay(db, hub, blog_id, since, position):
                await self._drain(settings.reader_buffer_bytes // 2)
                if transport.is_closing():
                    return
                transport.write(frame.ws)
                reader.sent = frame.offset
        reader.go_live()

    def _started(self, task: asyncio.Task[None]) -> None:
        self.starting = None
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("a reader could not join its blog", exc_info=error)
            self.close(1011, "server error; reconnect")

    async def _drain(self, below: int) -> None:
        """Wait while the transport holds more than `below` unsent bytes (replay only)."""
        transport = self.transport
        while transport is not None and not transport.is_closing():
            if transport.get_write_buffer_size() <= below:
                return
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable

    def pause_writing(self) -> None:
        if self.delegate is not None:
            self.delegate.pause_writing()
        # for readers, their byte bound, not the transport's watermarks, decides

    def resume_writing(self) -> None:
        if self.delegate is not None:
            self.delegate.resume_writing()
        elif self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # --- frames from the reader: pongs, pings, a close; anything else is ignored --------------

    def _client_frames(self, data: bytes) -> None:
        buffer = self.buffer + data if data else self.buffer
        limit = self.config.ws_max_size
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, head = second & 0x7F, 2
            if not second & 0x80:
                return self.close(PROTOCOL_ERROR, "client frames must be masked")
            if length == 126:
                if len(buffer) < 4:
                    break
                length, head = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, head = int.from_bytes(buffer[2:10], "big"), 10
            if length > limit:
                return self.close(MESSAGE_TOO_BIG, "readers send nothing this large")
            if len(buffer) < head + 4 + length:
                break
            mask = buffer[head : head + 4]
            payload = bytes(
                b ^ mask[i % 4] for i, b in enumerate(buffer[head + 4 : head + 4 + length])
            )
            buffer = buffer[head + 4 + length :]
            opcode = first & 0x0F
            if opcode == 0xA:
                self.awaiting_pong = False
            elif opcode == 0x9:
                self._write(bytes((0x8A, len(payload))) + payload if len(payload) < 126 else b"")
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000
                self.close(code if 1000 <= code < 5000 else 1000, "")
                return
        self.buffer = buffer

    # --- leaving ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self, code: int, reason: str) -> None:
        """Send a close frame, then end the connection (at once if it is stuck)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.reader is not None:
            self.reader.dropped = True
        transport.write(close_frame(code, reason))
        transport.close()
        asyncio.get_running_loop().call_later(2.0, transport.abort)

    def heartbeat(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.awaiting_pong:
            log.info("a reader stopped answering pings; dropping it")
            transport.abort()
            return
        self.awaiting_pong = True
        transport.write(PING)

    def shutdown(self) -> None:
        """uvicorn is stopping: tell the reader to come back (1012) and let it go."""
        self.close(SERVICE_RESTART, "server restarting; reconnect")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.delegate is not None:
            self.delegate.connection_lost(exc)
            return
        self.server_state.connections.discard(self)
        if self.starting is not None:
            self.starting.cancel()
        if self.reader is not None and self.blog_id is not None:
            self.reader.dropped = True
            self.hub.leave(self.blog_id, self.reader)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        app = self.app_state.get(APP_STATE_KEY)
        if app is not None and self.beat >= 0:
            app.state.heartbeat.discard(self, self.beat)
        if app is not None and self.address is not None:
            app.state.sockets.release(self.address)
            self.address = None
        self.transport = None
