"""Readers that resume: on any disconnect they come back with backoff and jitter, asking
for `since=<last offset seen>`, and keep every offset they receive so that gaps and
duplicates can be counted. One process runs many of them (see `run_resuming_swarm`)."""

import asyncio
import base64
import os
import random
import socket
import time
from typing import Any

import orjson

from bench.harness import swarm_process


class Follower:
    """One reader across connections."""

    def __init__(self, host: str, port: int, path: str, source: str) -> None:
        self.host, self.port, self.path, self.source = host, port, path, source
        self.last = 0
        self.offsets: list[int] = []
        self.attempts = 0
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.rcvbuf: int | None = None  # a small receive buffer makes a stall felt sooner
        self.connection: Connection | None = None
        self.close_codes: list[int] = []

        self.times: list[float] = []
        self.stallable = False

    def received(self, offset: int) -> None:
        self.offsets.append(offset)
        self.times.append(time.time())
        self.last = max(self.last, offset)

    def pause(self, paused: bool) -> None:
        """Stop reading from the socket (the server's writes pile up), or start again."""
        if self.connection is not None and self.connection.transport is not None:
            if paused:
                self.connection.transport.pause_reading()
            else:
                self.connection.transport.resume_reading()

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {self.path}?since={self.last} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((self.source, 0))
            sock.setblocking(False)
            if self.rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            try:
                await loop.sock_connect(sock, (self.host, self.port))
                await loop.create_connection(lambda: Connection(self), sock=sock)
                return
            except OSError:
                sock.close()
                await self.backoff()

    async def backoff(self) -> None:
        # Exponential backoff with full jitter, as the web client does.
        delay = min(2.0, 0.05 * 2**self.attempts) * random.random()
        self.attempts += 1
        await asyncio.sleep(delay)

    def lost(self) -> None:
        self.connected.clear()
        self.reconnects += 1
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        await self.backoff()
        await self.connect()


class Connection(asyncio.Protocol):
    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.buffer = b""
        self.open = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.follower.connection = self
        transport.write(self.follower.request())

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            self.open = True
            buffer = buffer[end + 4 :]
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            opcode, length, head = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = buffer[pos + head : pos + head + length]
            pos += head + length
            if opcode == 0x1:
                event = orjson.loads(payload)
                if event["type"] == "hello":
                    self.follower.attempts = 0
                    self.follower.connected.set()
                else:
                    self.follower.received(event["offset"])
            elif opcode == 0x9:
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + mask + masked)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.follower.close_codes.append(code)
                self.transport.close()
        self.buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.follower.lost()


def run_resuming_swarm(
    host: str,
    port: int,
    path: str,
    count: int,
    source: str,
    commands: Any,
    results: Any,
    stall_every: int = 0,
) -> None:
    """Process entry point. With `stall_every=n`, every n-th follower can be told to stop
    reading (`stall`) and to read again (`unstall`)."""
    swarm_process()

    async def main() -> None:
        followers = [Follower(host, port, path, source) for _ in range(count)]
        for follower in followers[::stall_every] if stall_every else ():
            follower.stallable = True
            follower.rcvbuf = 16 * 1024
        gate = asyncio.Semaphore(200)

        async def start(follower: Follower) -> None:
            async with gate:
                await follower.connect()
                await follower.connected.wait()

        await asyncio.gather(*(start(f) for f in followers))
        results.put(("connected", count))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, commands.get)
            if command[0] == "wait":  # until every follower has seen offset command[1]
                target, deadline = command[1], time.monotonic() + command[2]
                while any(f.last < target for f in followers) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                results.put(("got", time.time(), sum(f.last >= target for f in followers)))
            elif command[0] == "report":
                expected = list(range(1, command[1] + 1))
                missing = sum(len(set(expected) - set(f.offsets)) for f in followers)
                duplicated = sum(len(f.offsets) - len(set(f.offsets)) for f in followers)
                out_of_order = sum(f.offsets != sorted(f.offsets) for f in followers)
                reconnects = sum(f.reconnects for f in followers)
                results.put(("report", missing, duplicated, out_of_order, reconnects))
            elif command[0] in ("stall", "unstall"):
                for follower in followers:
                    if follower.stallable:
                        follower.pause(command[0] == "stall")
                results.put((command[0],))
            elif command[0] == "arrivals":  # (offset, time) seen by followers never stalled
                first, last = command[1], command[2]
                seen = [
                    (offset, at)
                    for f in followers
                    if not f.stallable
                    for offset, at in zip(f.offsets, f.times, strict=True)
                    if first <= offset <= last
                ]
                results.put(("arrivals", seen))
            elif command[0] == "closes":  # close codes the stallable followers were sent
                codes = [code for f in followers if f.stallable for code in f.close_codes]
                results.put(("closes", codes, sum(f.reconnects for f in followers if f.stallable)))
            elif command[0] == "close":
                results.put(("closed",))
                return

    asyncio.run(main())
