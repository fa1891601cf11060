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
                    self.follower.offsets.append(event["offset"])
                    self.follower.last = max(self.follower.last, event["offset"])
            elif opcode == 0x9:
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + mask + masked)
            elif opcode == 0x8:
                self.transport.close()
        self.buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.follower.lost()


def run_resuming_swarm(
    host: str, port: int, path: str, count: int, source: str, commands: Any, results: Any
) -> None:
    swarm_process()

    async def main() -> None:
        followers = [Follower(host, port, path, source) for _ in range(count)]
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
            elif command[0] == "close":
                results.put(("closed",))
                return

    asyncio.run(main())
