"""The reader edge against hostile and broken clients, on a real server.

Each attack gets the answer RFC 6455 (through the websockets library) or our limits give,
and costs a bounded amount: bytes buffered, time held, sockets counted.
"""

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State

from app.config import Settings
from app.live.edge.admission import Admission
from app.live.edge.stream import StreamState
from app.live.edge.websocket import MAX_FRAME, WebSocketProtocol
from app.services import services
from tests.conftest import LiveServer, StartServer, Tokens
from tests.live.test_joining import Api

KEY = base64.b64encode(os.urandom(16)).decode()


def upgrade_request(
    path: str = "/ws/blogs/live",
    method: str = "GET",
    version: str = "1.1",
    host: str | None = "127.0.0.1",
    key: str | None = KEY,
    extra: str = "",
) -> bytes:
    lines = [f"{method} {path} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


class Raw:
    """A client socket that sends exactly the bytes it is told to."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = b""

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def until_closed(self, timeout: float = 5) -> bytes:
        """Everything the server sends until it closes the connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                chunk = await asyncio.wait_for(
                    loop.sock_recv(self.sock, 65536), deadline - loop.time()
                )
            except ConnectionResetError:
                return self.received
            if not chunk:
                return self.received
            self.received += chunk

    async def head(self, timeout: float = 5) -> bytes:
        """The server's answer head (the rest stays in `received`)."""
        loop = asyncio.get_running_loop()
        while b"\r\n\r\n" not in self.received:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
            if not chunk:
                break
            self.received += chunk
        head, _, self.received = self.received.partition(b"\r\n\r\n")
        return head


@asynccontextmanager
async def raw(server: LiveServer, source: str = "127.0.0.1") -> AsyncIterator[Raw]:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        yield Raw(sock)
    finally:
        sock.close()


def status_of(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def masked(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame, built by hand so that it can break the rules."""
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    size = len(payload)
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        header = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_code(server_bytes: bytes) -> int | None:
    """The close code in what the server sent after its 101, parsed by the library."""
    client = ClientProtocol(websockets.uri.parse_uri("ws://x/"), state=State.OPEN)
    client.receive_data(server_bytes)
    for event in client.events_received():
        if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
            return Close.parse(event.data).code
    return None


async def blog_server(
    start_server: StartServer, tokens: Tokens, **settings: object
) -> tuple[LiveServer, Api]:
    """A server with these settings and a blog, "live", to read."""
    server = await start_server(**settings)
    api = Api(server.url, tokens)
    await api.create_blog()
    return server, api


@pytest.fixture
async def live(start_server: StartServer, tokens: Tokens) -> AsyncIterator[LiveServer]:
    server, api = await blog_server(
        start_server, tokens, request_head_seconds=1.0, heartbeat_seconds=60
    )
    await api.client.aclose()
    yield server


async def frames_answer(server: LiveServer, *frames: bytes) -> int | None:
    """Open a reader, send `frames`, return the close code the server answers with."""
    async with raw(server) as client:
        await client.send(upgrade_request())
        assert status_of(await client.head()) == 101
        await client.send(b"".join(frames))
        return close_code(await client.until_closed())


# --- frames from readers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([masked(0x1, b"hi")], {1003}),  # a message: readers have nothing to say
        ([masked(0x2, b"\x00" * 100)], {1003}),
        ([masked(0x1, b"x" * 4000)], {1009}),  # refused from its header
        ([masked(0x9, b"", rsv=0b100)], {1002}),  # RSV bits without an extension
        ([masked(0x3, b"")], {1002}),  # reserved opcode
        ([masked(0xB, b"")], {1002}),
        ([masked(0x9, b"p" * 126)], {1002}),  # control frames over 125 bytes, whatever size
        ([masked(0xA, b"p" * 70_000)], {1002}),  # (refused from the header all the same)
        ([masked(0x9, b"ping"), masked(0x8, b"\x03\xe8" + b"r" * 200)], {1002}),
        ([masked(0x1, b"\xff\xfe not UTF-8")], {1007}),  # a text frame of invalid UTF-8
        ([masked(0x1, b"caf\xc3", fin=False)], {1003}),  # valid so far: only a message
        ([masked(0x1, "naïve".encode())], {1003}),
        ([masked(0x9, b"p", fin=False)], {1002}),  # fragmented control frame
        ([masked(0x0, b"more")], {1002}),  # continuation with nothing to continue
        ([masked(0x8, (1000).to_bytes(2, "big") + b"\xff\xfe")], {1007}),  # bad UTF-8 reason
        ([masked(0x8, (1005).to_bytes(2, "big"))], {1002}),  # codes that never go on the wire
        ([masked(0x8, (1006).to_bytes(2, "big"))], {1002}),
        ([masked(0x8, (1015).to_bytes(2, "big"))], {1002}),
        ([masked(0x8, (2999).to_bytes(2, "big"))], {1002}),
        ([masked(0x8, b"\x03")], {1002}),  # a one-byte close payload
        ([masked(0x8, (4000).to_bytes(2, "big") + b"bye")], {4000}),  # a valid close: echoed
        ([masked(0x9, b"ping")] * 11, {1008}),  # past the control frame budget
        ([b"\x89\x00"], {1002}),  # unmasked
    ],
)
async def test_what_readers_send_is_held_to_rfc_6455(
    live: LiveServer, frames: list[bytes], expected: set[int]
) -> None:
    assert await frames_answer(live, *frames) in expected


async def test_pongs_count_against_the_readers_byte_bound(
    start_server: StartServer, tokens: Tokens
) -> None:
    server, api = await blog_server(
        start_server, tokens, reader_buffer_bytes=4096, reader_control_frames=10_000
    )
    async with raw(server) as client:
        # The client never reads: pongs of 125 bytes pile up in the server's buffers.
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await client.send(upgrade_request())
        ping = masked(0x9, b"p" * 125)
        sent = 0
        with pytest.raises(OSError):
            for _ in range(20_000):  # 2.6 MB of pings
                await asyncio.wait_for(client.send(ping * 100), 2)
                sent += 100
        assert sent < 20_000  # cut off long before all were sent
    await api.client.aclose()


async def test_a_non_ascii_slugs_refusal_reaches_the_client_whole(live: LiveServer) -> None:
    slug = "é" * 60  # 120 bytes: the reason is cut at a whole character
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with connect(f"{live.ws_url}/ws/blogs/{slug}") as ws:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_unknown_slugs_are_remembered_until_a_blog_has_it(
    live: LiveServer, tokens: Tokens
) -> None:
    hub = services(live.app).hub
    for _ in range(2):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with connect(f"{live.ws_url}/ws/blogs/later") as ws:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert "later" in hub._unknown  # the second refusal cost no query
    api = Api(live.url, tokens)
    await api.create_blog("later")
    async with connect(f"{live.ws_url}/ws/blogs/later") as ws:
        assert orjson.loads(await ws.recv())["type"] == "hello"
    await api.client.aclose()


# --- the request, before it is a reader -----------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (upgrade_request(method="POST"), 405),
        (upgrade_request(method="PUT"), 405),
        (upgrade_request(version="1.0"), 505),
        (upgrade_request(host=None), 400),
        (upgrade_request(key="a" * 23 + "!"), 400),  # 24 characters, not base64
        (upgrade_request(key=base64.b64encode(b"x" * 15).decode() + "A"), 400),
        (upgrade_request(key=None), 400),
        (upgrade_request(extra=f"Sec-WebSocket-Key: {KEY}\r\n"), 400),  # two keys
        (upgrade_request(path="/ws/other"), 404),
        (upgrade_request(extra="X-Big: " + "b" * 100_000 + "\r\n"), 431),
        (upgrade_request(extra="X-Big: " + "b" * 1_000_000 + "\r\n"), 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
    ],
)
async def test_requests_are_checked_before_they_become_readers(
    live: LiveServer, request_bytes: bytes, expected: int
) -> None:
    async with raw(live) as client:
        try:
            await client.send(request_bytes)
        except ConnectionResetError:
            pass  # the server answered and closed before the request was all sent
        head = await client.head()
        assert status_of(head) == expected, head
        await client.until_closed()  # and the connection ends


async def test_a_header_that_never_ends_is_cut_off_early(live: LiveServer) -> None:
    async with raw(live) as client:
        await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        try:
            for _ in range(32 * 16):  # up to 32 MB
                await asyncio.wait_for(client.send(b"b" * 65536), 2)
                sent += 65536
        except OSError:
            pass  # reset by the server after its answer
        answer = await client.until_closed()
        assert answer.startswith(b"HTTP/1.1 431")
        assert sent < 8 * 1024 * 1024  # the server stopped reading long before 32 MB


async def test_slow_or_silent_sockets_are_closed_after_the_head_deadline(
    live: LiveServer,
) -> None:
    started = time.monotonic()
    async with raw(live) as silent, raw(live) as dribbler:
        request = upgrade_request()

        async def dribble() -> None:
            for byte in request:
                await dribbler.send(bytes((byte,)))
                await asyncio.sleep(0.2)

        task = asyncio.create_task(dribble())
        assert await silent.until_closed(5) == b""  # closed, nothing said
        assert (await dribbler.until_closed(5)).startswith(b"HTTP/1.1 408")
        task.cancel()
        with pytest.raises((asyncio.CancelledError, OSError)):
            await task
    assert time.monotonic() - started < 4  # the deadline is 1 s in this test


# --- sockets per address, connects per second, the reserve ----------------------------------


async def test_every_socket_of_an_address_counts(start_server: StartServer, tokens: Tokens) -> None:
    server, api = await blog_server(
        start_server, tokens, ws_connections_per_address=5, request_head_seconds=30
    )
    admission = services(server.app).admission
    async with raw(server, "127.0.0.2"), raw(server, "127.0.0.2"):  # half-open
        async with raw(server, "127.0.0.2") as c:
            await c.send(upgrade_request())
            assert status_of(await c.head()) == 101
            async with httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            ) as client:
                async with client.stream("GET", f"{server.url}/blogs/live/events") as sse:
                    assert sse.status_code == 200
                    # two half-open, one WebSocket, one SSE: the fifth socket is the last
                    assert admission._open["127.0.0.2"] == 4
                    async with raw(server, "127.0.0.2"), raw(server, "127.0.0.2") as sixth:
                        await sixth.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        assert status_of(await sixth.head()) == 429
                    # Other addresses are served as ever.
                    assert (await api.client.get("/healthz")).status_code == 200
    for _ in range(100):
        if "127.0.0.2" not in admission._open:
            break
        await asyncio.sleep(0.02)
    assert "127.0.0.2" not in admission._open  # every socket gave its place back
    await api.client.aclose()


async def test_reader_connects_are_paced_per_address(
    start_server: StartServer, tokens: Tokens
) -> None:
    """Under pressure (here: always), an address's reader connects are paced."""
    server, api = await blog_server(
        start_server,
        tokens,
        reader_connects_per_second=0.5,
        reader_connect_burst=2,
        reader_join_pressure=0,
    )
    for _ in range(2):
        async with connect(f"{server.ws_url}/ws/blogs/live") as ws:
            await ws.recv()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{server.ws_url}/ws/blogs/live"):
            pass
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"
    sse = await api.client.get("/blogs/live/events")
    assert sse.status_code == 429
    await api.client.aclose()


async def test_without_pressure_a_crowd_behind_one_address_is_not_paced(
    start_server: StartServer, tokens: Tokens
) -> None:
    server, api = await blog_server(
        start_server, tokens, reader_connects_per_second=0.5, reader_connect_burst=2
    )
    for _ in range(10):  # one after another: never more than one joining at once
        async with connect(f"{server.ws_url}/ws/blogs/live") as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"
    assert services(server.app).admission.joining == 0
    await api.client.aclose()


# --- random bytes into the reader protocol --------------------------------------------------


class RecordingTransport(asyncio.Transport):
    """The socket's side of the reader protocol: records what it is given to write."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closing, "written after close"
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return len(self.written)


# Close codes a server may send: those RFC 6455 lets a peer echo, and our own answers.
# 1005 is how the library reads a close frame with no payload: the echo of a client's own
# empty close (RFC 6455, 5.5.1), never a code put on the wire.
ALLOWED = {1000, 1001, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


def _reader_for_fuzzing() -> tuple[WebSocketProtocol, RecordingTransport]:
    settings = Settings(reader_buffer_bytes=65536)
    admission = Admission(per_address=0, per_second=0, burst=1, reserve=0, open_files=100)
    app_services: Any = SimpleNamespace(settings=settings, admission=admission)
    reader = WebSocketProtocol(app_services, SimpleNamespace(connections=set()), None)
    transport = RecordingTransport()
    reader.connection_made(transport)
    reader.to(StreamState.JOINING)  # as after a handshake
    return reader, transport


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=st.one_of(
        st.binary(max_size=2048),
        # Streams that start like real frames, so that the parser gets past the header.
        st.lists(
            st.tuples(st.integers(0, 255), st.binary(max_size=200)).map(
                lambda t: masked(t[0] & 0x0F, t[1], fin=bool(t[0] & 0x80), rsv=t[0] >> 4 & 7)
            ),
            max_size=12,
        ).map(b"".join),
    ),
    cuts=st.lists(st.integers(1, 300), max_size=20),
)
def test_random_bytes_never_break_the_reader_protocol(stream: bytes, cuts: list[int]) -> None:
    loop = asyncio.new_event_loop()
    try:
        reader, transport = _reader_for_fuzzing()

        async def feed() -> None:
            rest = stream
            for cut in cuts or [len(stream)]:
                chunk, rest = rest[:cut], rest[cut:]
                reader.data_received(chunk)
                if reader.ws is not None:  # still reading: holds at most one frame
                    assert len(reader.ws.reader.buffer) <= 14 + MAX_FRAME
            if rest:
                reader.data_received(rest)

        loop.run_until_complete(feed())
        written = bytes(transport.written)
        assert len(written) <= 65536  # pongs and a close, within the reader's bound
        if transport.closing:
            code = close_code(written)
            assert code is None or code in ALLOWED or 3000 <= code < 5000
    finally:
        loop.close()


# --- a channel's load belongs to the channel --------------------------------------------------


async def test_the_first_reader_leaving_mid_load_refuses_no_one(
    start_server: StartServer, tokens: Tokens, settings: Settings
) -> None:
    server, api = await blog_server(start_server, tokens)
    await api.post("before")
    async with connect(f"{server.ws_url}/ws/blogs/live") as ws:
        await ws.recv()  # the slug is known now; the channel closes with its last reader
    hub = services(server.app).hub
    for _ in range(100):
        if not hub.channels:
            break
        await asyncio.sleep(0.01)
    assert not hub.channels
    lock = None
    if not settings.is_sqlite:  # the database is slow: the load waits on a lock
        url = make_url(settings.database_url)
        lock = await asyncpg.connect(host=url.host, port=url.port, user=url.username,
                                     database=url.database)  # fmt: skip
        await lock.execute("BEGIN; LOCK TABLE blog IN ACCESS EXCLUSIVE MODE")
    try:
        first = await connect(f"{server.ws_url}/ws/blogs/live")

        async def open_reader() -> ClientConnection:
            return await connect(f"{server.ws_url}/ws/blogs/live")

        others = [asyncio.create_task(open_reader()) for _ in range(30)]
        await asyncio.sleep(0.3 if lock else 0)
        first.transport.abort()  # the first joiner goes while the channel loads
    finally:
        if lock is not None:
            await asyncio.sleep(0.3)
            await lock.execute("ROLLBACK")
            await lock.close()
    for task in others:
        ws = await task
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello" and hello["offset"] == 1
        await ws.close()
    await api.client.aclose()


def test_frames_split_anywhere_are_parsed_whole() -> None:
    """The parser is dropped between frames only: a pong cut byte by byte still counts."""
    loop = asyncio.new_event_loop()
    try:
        reader, transport = _reader_for_fuzzing()
        stream = b"".join(masked(0xA, b"pong %d" % n) for n in range(5))
        stream += masked(0x8, (1000).to_bytes(2, "big") + b"bye")

        async def feed() -> None:
            for byte in stream:
                reader.awaiting_pong = True
                reader.data_received(bytes((byte,)))

        loop.run_until_complete(feed())
        assert reader.control_frames == 5
        assert transport.closing and close_code(bytes(transport.written)) == 1000
    finally:
        loop.close()


async def test_a_request_waiting_unread_at_shutdown_is_answered(
    start_server: StartServer, tokens: Tokens
) -> None:
    """A request already in the socket, not yet read, when the server starts stopping: it
    is read and answered, and the connection then closes."""
    server = await start_server()
    async with raw(server) as client:
        await client.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(await client.head()) == 200  # a kept-alive, idle connection
        client.received = b""
        client.sock.setblocking(True)
        client.sock.sendall(  # in the server's socket buffer before its loop runs again
            b"POST /api/blogs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + tokens.admin.encode() + b"\r\nContent-Length: 35\r\n"
            b'\r\n{"slug": "late", "title": "Late!!"}'
        )
        client.sock.setblocking(False)
        server.server.should_exit = True
        await server.server.shutdown()
        answer = await client.until_closed()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert b"connection: close" in answer.lower()
