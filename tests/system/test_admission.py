"""Who gets a socket, tried as crowds and attackers would, against real server processes:
a small file limit, one host holding hundreds of silent sockets, a crowd behind one NAT
coming back after a restart, and IPv6 clients counted by their /64."""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from app.config import Settings
from tests.conftest import Tokens
from tests.servers import LIVEUPDATES, AppServer, free_port

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


async def _blog(server: AppServer, tokens: Tokens) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/api/blogs", json={"slug": "crowd", "title": "Crowd"},
                              headers=tokens.auth("admin"))  # fmt: skip
        assert r.status_code == 201, r.text


async def _reader(
    server: AppServer, source: str = "127.0.0.1", query: str = ""
) -> ClientConnection:
    ws = await connect(
        f"{server.ws_url}/ws/blogs/crowd{query}", local_addr=(source, 0), open_timeout=10
    )
    assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
    return ws


def _status(error: BaseException) -> int | None:
    return error.response.status_code if isinstance(error, websockets.InvalidStatus) else None


async def test_a_small_file_limit_serves_readers_and_one_host_cannot_fill_it(
    settings: Settings, tokens: Tokens, tmp_path: Path, clean_db: None
) -> None:
    """256 files: the reserve shrinks to 64, one address may hold 96 sockets. A host that
    opens 300 silent sockets holds 96; readers from elsewhere are served up to their own
    96; only past the rest of the files (the reserve) are readers refused (503), and the
    reserve still answers health checks."""
    server = AppServer(settings, tmp_path, open_files=256, request_head_seconds="60")
    await server.start()
    silent: list[socket.socket] = []
    readers: list[ClientConnection] = []
    try:
        await _blog(server, tokens)
        loop = asyncio.get_running_loop()
        for _ in range(300):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", server.port))
            silent.append(sock)
        held = 0
        for _ in range(50):  # until the server has answered every one past its share
            await asyncio.sleep(0.1)
            held = 0
            for sock in silent:
                with contextlib.suppress(BlockingIOError):
                    sock.recv(1, socket.MSG_PEEK)
                    continue  # answered (429) or closed
                held += 1
            if held == 96:
                break
        assert held == 96

        for _ in range(96):  # another address: its own share, whole
            readers.append(await _reader(server, "127.0.0.1"))
        with pytest.raises(websockets.InvalidStatus) as refused:
            await _reader(server, "127.0.0.1")
        assert _status(refused.value) == 429
        # 192 sockets are open: the files left are the reserve's.
        with pytest.raises(websockets.InvalidStatus) as refused:
            await _reader(server, "127.0.0.3")
        assert _status(refused.value) == 503
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.4")
        async with httpx.AsyncClient(transport=transport, base_url=server.url) as client:
            assert (await client.get("/healthz")).status_code == 200
        # The silent host leaves: readers are served again.
        for sock in silent:
            sock.close()
        silent.clear()
        await asyncio.sleep(0.5)
        readers.append(await _reader(server, "127.0.0.3"))
    finally:
        for sock in silent:
            sock.close()
        for ws in readers:
            await ws.close()
        server.stop()


async def test_a_crowd_behind_one_address_is_back_within_seconds_of_a_restart(
    settings: Settings, tokens: Tokens, tmp_path: Path, clean_db: None
) -> None:
    """1,000 readers from one address (a carrier NAT), with the default limits: after a
    restart they reconnect as the web client does (jitter, backoff on a refusal) and are
    all back in a few seconds, not paced over most of a minute."""
    crowd = 1000
    server = AppServer(settings, tmp_path)  # the default reader limits
    await server.start()
    back: list[float] = []
    refusals = 0

    async def read(index: int, restarted: asyncio.Event) -> None:
        nonlocal refusals
        ws = await _reader(server)
        try:
            await ws.wait_closed()  # the restart: 1012
        finally:
            await ws.close()
        await restarted.wait()
        attempts = 0
        while True:
            # As web/follow.js: 0.25 to 0.75 s, doubling after each failure.
            await asyncio.sleep(0.5 * 2**attempts * (0.5 + (index % 100) / 100))
            try:
                ws = await _reader(server)
            except (websockets.InvalidStatus, OSError, TimeoutError):
                refusals += 1
                attempts += 1
                continue
            back.append(time.monotonic())
            await ws.close()
            return

    try:
        await _blog(server, tokens)
        restarted = asyncio.Event()
        tasks = []
        for index in range(crowd):
            tasks.append(asyncio.create_task(read(index, restarted)))
            if index % 100 == 99:
                await asyncio.sleep(0.2)  # the crowd arrived over a few seconds
        connected = f'liveupdates_readers{{transport="websocket"}} {crowd}.0'
        for _ in range(300):
            async with httpx.AsyncClient(base_url=server.url) as client:
                if connected in (await client.get("/metrics")).text:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the crowd of {crowd} did not connect")
        server.stop()
        await server.start()
        started = time.monotonic()
        restarted.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        took = max(back) - started
        assert len(back) == crowd
        print(f"{crowd} readers from one address back in {took:.1f} s ({refusals} refusals)")
        assert took < 8, f"the crowd took {took:.1f} s to come back ({refusals} refusals)"
    finally:
        for task in tasks:
            task.cancel()
        server.stop()


# --- IPv6, over addresses of a network namespace made for the test -------------------------

CLIENT = r"""
import json, socket, sys
port, plan = int(sys.argv[1]), json.loads(sys.argv[2])
request = (b"GET /ws/blogs/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
held, answers = [], {}
for source, count in plan:
    for _ in range(count):
        sock = socket.socket(socket.AF_INET6)
        sock.bind((source, 0))
        sock.settimeout(5)
        sock.connect(("::1", port))
        sock.sendall(request)
        status = int(sock.recv(4096).split(b" ", 2)[1])
        answers.setdefault(source, []).append(status)
        held.append(sock)
print(json.dumps(answers))
"""
READY = r"""
import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(("::1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the server did not start")
"""


@contextlib.asynccontextmanager
async def namespace() -> AsyncIterator[str]:
    """A network namespace with IPv6 addresses in two /64s on its loopback."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (ip)")
    name = f"lu-test-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"no network namespace here: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for address in ("fd00:1::1/64", "fd00:1::2/64", "fd00:1::3/64", "fd00:2::9/64"):
            subprocess.run(
                ["ip", "-n", name, "addr", "add", address, "dev", "lo", "nodad"], check=True
            )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _in(ns: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *command]


@pytest.mark.parametrize("prefix", [64, 128])
async def test_ipv6_clients_are_counted_by_their_network(
    settings: Settings, tmp_path: Path, prefix: int
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'v6.db'}"
    env = {**os.environ, "DATABASE_URL": database, "WS_CONNECTIONS_PER_ADDRESS": "4",
           "IPV6_PREFIX_LENGTH": str(prefix)}  # fmt: skip
    demo = subprocess.run([LIVEUPDATES, "demo"], env=env, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    async with namespace() as ns:
        port = free_port()
        with (tmp_path / "server.log").open("wb") as log:
            server = subprocess.Popen(
                _in(ns, LIVEUPDATES, "serve", "--host", "::", "--port", str(port)),
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            ready = subprocess.run(_in(ns, sys.executable, "-c", READY, str(port)), timeout=60)
            assert ready.returncode == 0, (tmp_path / "server.log").read_text()
            # Two hosts of one /64 (three sockets each), and a host of another /64.
            plan = [["fd00:1::2", 3], ["fd00:1::3", 3], ["fd00:2::9", 3]]
            done = subprocess.run(
                _in(ns, sys.executable, "-c", CLIENT, str(port), json.dumps(plan)),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            answers: dict[str, Any] = json.loads(done.stdout)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if prefix == 64:  # one household: four sockets between them
        assert answers["fd00:1::2"] == [101, 101, 101]
        assert answers["fd00:1::3"] == [101, 429, 429]
    else:  # each address on its own
        assert answers["fd00:1::3"] == [101, 101, 101]
    assert answers["fd00:2::9"] == [101, 101, 101]  # the neighbours' /64 is theirs
