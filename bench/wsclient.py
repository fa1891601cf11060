"""A lean WebSocket reader swarm for load tests: raw asyncio protocols, one process.

It must cost far less than the server it measures, so it speaks just enough RFC 6455:
the handshake, unmasked server frames, pongs to pings, and the offset of each event;
with `deflate`, it offers permessage-deflate and inflates compressed frames. With `sse`,
its readers read Server-Sent Events instead. It counts the bytes it receives.
"""

import asyncio
import base64
import os
import resource
import socket
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.harness import swarm_process


@dataclass
class Stats:
    arrivals: dict[int, list[float]] = field(default_factory=dict)  # offset -> times
    closed: int = 0
    wire_bytes: int = 0  # after the handshake


class Reader(asyncio.Protocol):
    def __init__(self, request: bytes, stats: Stats, opened: asyncio.Future[None]) -> None:
        self.request = request
        self.stats = stats
        self.opened = opened
        self.buffer = b""
        self.handshaken = False
        self.transport: asyncio.Transport | None = None
        # Kept across messages, so that servers compressing with context takeover (as most
        # libraries do by default) are read too; ours compresses each message on its own.
        self.inflater: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    ANSWER = b"HTTP/1.1 101"

    def _received(self, data: bytes) -> bytes | None:
        """The buffered bytes after the answer's head; None while it is still to come."""
        self.stats.wire_bytes += len(data)
        buffer = self.buffer + data
        if self.handshaken:
            return buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0 or not buffer.startswith(self.ANSWER):
            self.buffer = buffer
            if end >= 0 and not self.opened.done():
                self.opened.set_exception(ConnectionError(buffer[:200].decode("latin-1")))
            return None
        self.handshaken = True
        if not self.opened.done():
            self.opened.set_result(None)
        return buffer[end + 4 :]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._received(data)
        if buffer is None:
            return
        pos = 0
        size = len(buffer)
        while size - pos >= 2:
            opcode = buffer[pos] & 0x0F
            length = buffer[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            payload = buffer[pos + head : pos + head + length]
            pos += head + length
            if opcode == 0x1:
                if buffer[pos - head - length] & 0x40:  # RSV1: compressed (RFC 7692)
                    if self.inflater is None:
                        self.inflater = zlib.decompressobj(wbits=-15)
                    payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                offset = orjson.loads(payload).get("offset")
                if offset is not None:
                    self.stats.arrivals.setdefault(offset, []).append(now)
            elif opcode == 0x9 and self.transport is not None:  # ping -> masked pong
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + mask + masked)
            elif opcode == 0x8:
                self.stats.closed += 1
        self.buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed"))


class SseProtocol(Reader):
    """Reads the `id:` lines of an event stream (`<offset>@<epoch>`, or a bare offset)."""

    ANSWER = b"HTTP/1.1 200"

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._received(data)
        if buffer is None:
            return
        *lines, self.buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"id: "):
                offset = int(line[4:].split(b"@", 1)[0])  # `id: <offset>@<epoch>`
                self.stats.arrivals.setdefault(offset, []).append(now)


async def open_readers(
    host: str,
    port: int,
    path: str,
    count: int,
    source: str,
    stats: Stats,
    concurrency: int = 200,
    mode: str = "ws",
) -> list[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16)).decode()
    offer = (
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        if mode == "deflate"
        else ""
    )
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{offer}\r\n"
    ).encode()
    protocol: type[Reader] = Reader
    if mode == "sse":
        protocol = SseProtocol
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    transports: list[asyncio.Transport] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            for attempt in range(5):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((source, 0))
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, (host, port))
                    opened: asyncio.Future[None] = loop.create_future()
                    transport, _ = await loop.create_connection(
                        lambda o=opened: protocol(request, stats, o),
                        sock=sock,  # type: ignore[misc]
                    )
                    await asyncio.wait_for(opened, 30)
                    transports.append(transport)  # type: ignore[arg-type]
                    return
                except (OSError, TimeoutError, ConnectionError):
                    sock.close()
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise ConnectionError("could not open a reader")

    await asyncio.gather(*(one() for _ in range(count)))
    return transports


def run_swarm(
    host: str,
    port: int,
    path: str,
    count: int,
    source: str,
    commands: Any,
    results: Any,
    mode: str = "ws",
) -> None:
    """Process entry point: open `count` readers, then answer the driver's commands.
    `mode`: "ws", "deflate" (WebSocket offering permessage-deflate) or "sse"."""
    swarm_process()

    async def main() -> None:
        stats = Stats()
        transports = await open_readers(host, port, path, count, source, stats, mode=mode)
        results.put(("connected", len(transports)))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, commands.get)
            if command[0] == "wait":  # wait until every reader has offset command[1]
                offset, timeout = command[1], command[2]
                deadline = time.monotonic() + timeout
                while len(stats.arrivals.get(offset, ())) < len(transports):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.002)
                results.put(("got", offset, len(stats.arrivals.get(offset, ()))))
            elif command[0] == "report":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                results.put(
                    (
                        "report",
                        stats.arrivals,
                        usage.ru_utime + usage.ru_stime,
                        stats.closed,
                        stats.wire_bytes,
                    )
                )
            elif command[0] == "close":
                for transport in transports:
                    transport.close()
                await asyncio.sleep(0.5)
                results.put(("closed",))
                return

    asyncio.run(main())
