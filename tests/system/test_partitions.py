"""Slow faults: the path from one instance to Postgres or Redis black-holed (bytes taken,
nothing answered), two instances on one Postgres and one Redis, readers on both, writers
through both. Nobody waits longer than the bounds; no reader misses or doubles an offset.
And a stopping instance lets its readers go at once."""

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from app.config import Settings
from tests.conftest import Tokens
from tests.partition import PartitionablePath
from tests.servers import AppServer, RedisServer

pytestmark = pytest.mark.parametrize("settings", ["postgres"], indirect=True)

SLUG = "partition"


class Reader:
    """A WebSocket reader that keeps every offset it is sent, and when."""

    def __init__(self, server: AppServer) -> None:
        self.server = server
        self.offsets: list[int] = []
        self.arrived: dict[int, float] = {}
        self.task = asyncio.create_task(self._read())
        self.ready = asyncio.Event()

    async def _read(self) -> None:
        async with connect(f"{self.server.ws_url}/ws/blogs/{SLUG}?since=0") as ws:
            async for message in ws:
                event = orjson.loads(message)
                if event["type"] == "hello":
                    self.ready.set()
                    continue
                self.offsets.append(event["offset"])
                self.arrived[event["offset"]] = time.monotonic()

    async def until(self, offset: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while offset not in self.arrived and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class Writer:
    def __init__(self, server: AppServer, tokens: Tokens) -> None:
        self.client = httpx.AsyncClient(
            base_url=server.url, headers=tokens.auth("editor"), timeout=30
        )

    async def post(self, body: str) -> tuple[int, float, dict[str, object]]:
        started = time.monotonic()
        r = await self.client.post(f"/api/blogs/{SLUG}/entries", json={"body": body})
        return r.status_code, time.monotonic() - started, r.json()


@pytest.fixture
async def paths(
    settings: Settings, redis_server: RedisServer
) -> AsyncIterator[dict[str, PartitionablePath]]:
    database = PartitionablePath(make_url(settings.database_url).port or 5432)
    broker = PartitionablePath(redis_server.port)
    await database.start()
    await broker.start()
    yield {"database": database, "broker": broker}
    await database.close()
    await broker.close()


@pytest.fixture
async def two_instances(
    settings: Settings,
    tokens: Tokens,
    redis_server: RedisServer,
    paths: dict[str, PartitionablePath],
    tmp_path: Path,
) -> AsyncIterator[tuple[AppServer, AppServer]]:
    """A reaches Postgres and Redis through paths the test can black-hole; B directly."""
    url = make_url(settings.database_url)
    through = url.set(port=paths["database"].port).render_as_string(hide_password=False)
    servers = []
    for name, database, broker_port in (
        ("a", through, paths["broker"].port),
        ("b", settings.database_url, redis_server.port),
    ):
        workdir = tmp_path / name
        workdir.mkdir()
        server = AppServer(
            settings.model_copy(update={"database_url": database}),
            workdir,
            log_level="info",
            broker_url=f"redis://127.0.0.1:{broker_port}/0",
            shutdown_grace_seconds="5",
            # Bounds for an answer within 3 s (the default statement bound is 5 s, for
            # writers queueing on a busy blog's lock).
            db_statement_timeout_seconds="2",
            db_connect_timeout_seconds="1",
        )
        await server.start()
        servers.append(server)
    async with httpx.AsyncClient(base_url=servers[1].url) as client:
        r = await client.post(
            "/api/blogs", json={"slug": SLUG, "title": "Partition"}, headers=tokens.auth("admin")
        )
        assert r.status_code == 201, r.text
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


async def latest(server: AppServer) -> int:
    async with httpx.AsyncClient(base_url=server.url) as client:
        offset: int = (await client.get(f"/api/blogs/{SLUG}")).json()["offset"]
        return offset


async def readers_and_writers(
    a: AppServer, b: AppServer, tokens: Tokens
) -> tuple[list[Reader], Writer, Writer]:
    """Two readers on each instance, joined; a writer through each."""
    readers = [Reader(server) for server in (a, a, b, b)]
    for reader in readers:
        await asyncio.wait_for(reader.ready.wait(), 10)
    return readers, Writer(a, tokens), Writer(b, tokens)


async def every_offset_once(readers: list[Reader], b: AppServer, *writers: Writer) -> None:
    """Once all is delivered, every reader has had every offset once, in order."""
    last = await latest(b)
    for reader in readers:
        await reader.until(last)
        await reader.close()
    for reader in readers:
        assert reader.offsets == list(range(1, last + 1)), reader.offsets
    for writer in writers:
        await writer.client.aclose()


def log_lines(server: AppServer, level: str) -> list[str]:
    """The messages the server logged at `level` (its log is JSON, a line each)."""
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            record = orjson.loads(line)
            if record["level"] == level:
                lines.append(record["message"])
    return lines


def errors_in(server: AppServer) -> list[str]:
    return log_lines(server, "error")


async def test_a_database_black_hole_answers_503_in_bounded_time(
    two_instances: tuple[AppServer, AppServer], paths: dict[str, PartitionablePath], tokens: Tokens
) -> None:
    a, b = two_instances
    readers, to_a, to_b = await readers_and_writers(a, b, tokens)
    for n in range(3):
        assert (await to_a.post(f"a{n}"))[0] == 201
        assert (await to_b.post(f"b{n}"))[0] == 201

    paths["database"].black_hole()
    answers = []
    ended = time.monotonic() + 8
    while time.monotonic() < ended:
        status, took, _ = await to_a.post("during the black hole")
        answers.append((status, round(took, 2)))
        assert (await to_b.post("elsewhere"))[0] == 201  # the other instance goes on
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["database"] == "down"
    paths["database"].heal()

    assert answers and all(status == 503 for status, _ in answers), answers
    assert max(took for _, took in answers) <= 3.0, answers
    for _ in range(100):  # the instance recovers by itself
        status, _, _ = await to_a.post("after")
        if status == 201:
            break
        await asyncio.sleep(0.2)
    assert status == 201
    await every_offset_once(readers, b, to_a, to_b)
    # One ERROR for the outage, however many things failed during it; INFO when it ended.
    errors = errors_in(a)
    assert len(errors) == 1 and errors[0].startswith("database is unavailable"), errors
    assert any(m.startswith("database is back") for m in log_lines(a, "info"))
    async with httpx.AsyncClient(base_url=a.url) as client:
        metrics = (await client.get("/metrics")).text
    assert 'liveupdates_dependency_events_total{dependency="database",event="lost"} 1.0' in metrics


async def test_a_broker_black_hole_never_holds_a_post(
    two_instances: tuple[AppServer, AppServer], paths: dict[str, PartitionablePath], tokens: Tokens
) -> None:
    a, b = two_instances
    readers, to_a, to_b = await readers_and_writers(a, b, tokens)
    assert (await to_a.post("before"))[0] == 201

    paths["broker"].black_hole()
    posted_at: dict[int, float] = {}
    ended = time.monotonic() + 6
    while time.monotonic() < ended:
        for writer in (to_a, to_b):
            status, took, entry = await writer.post("during the broker's black hole")
            assert status == 201 and took <= 2.0, (status, took)
            posted_at[await latest(b)] = time.monotonic()
        await asyncio.sleep(0.3)
    last = await latest(b)
    for reader in readers:
        await reader.until(last, timeout=10)
    # Every post reached the other instance's readers through the log catch-up.
    for offset, at in posted_at.items():
        for reader in readers:
            assert reader.arrived[offset] - at <= 3.5, (offset, reader.arrived[offset] - at)
    paths["broker"].heal()
    assert (await to_a.post("after"))[0] == 201
    await every_offset_once(readers, b, to_a, to_b)


async def test_sigterm_lets_every_reader_go_at_once(
    two_instances: tuple[AppServer, AppServer], tokens: Tokens
) -> None:
    a, b = two_instances
    to_b = Writer(b, tokens)
    for n in range(3):
        assert (await to_b.post(f"n{n}"))[0] == 201
    websockets = [Reader(a) for _ in range(100)]
    for reader in websockets:
        await asyncio.wait_for(reader.ready.wait(), 10)
        await reader.until(3)
    client = httpx.AsyncClient(base_url=a.url, timeout=30)
    streams = []
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(20):
            response = await stack.enter_async_context(
                client.stream("GET", f"/blogs/{SLUG}/events", params={"since": "0"})
            )
            lines = response.aiter_lines()
            streams.append(lines)
            assert (await anext(lines)).startswith("retry:")
        assert a.process is not None
        started = time.monotonic()
        a.process.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, a.process.wait)
        took = time.monotonic() - started
        seen: list[list[int]] = []
        for lines in streams:
            offsets = []
            with contextlib.suppress(httpx.HTTPError, StopAsyncIteration):
                async for line in lines:
                    if line.startswith("id: "):
                        offsets.append(int(line[4:].split("@")[0]))  # <offset>@<epoch>
            seen.append(offsets)
    await client.aclose()
    assert took <= 1.5, took
    assert errors_in(a) == []
    # Everyone resumes on the other instance from the last offset it saw, gapless.
    assert (await to_b.post("while they moved"))[0] == 201
    last = await latest(b)
    for reader in websockets:
        await reader.close()
        since = reader.offsets[-1]
        async with connect(f"{b.ws_url}/ws/blogs/{SLUG}?since={since}") as ws:
            hello = orjson.loads(await ws.recv())
            rest = [orjson.loads(await ws.recv())["offset"] for _ in range(hello["offset"] - since)]
        assert reader.offsets + rest == list(range(1, last + 1))
    for offsets in seen:
        assert offsets == [1, 2, 3]
    await to_b.client.aclose()


async def test_requests_that_arrived_before_sigterm_are_all_answered(
    settings: Settings, tokens: Tokens, tmp_path: Path
) -> None:
    """Posts sent 12 ms to 1 ms before SIGTERM on warm keep-alive connections: each gets an
    answer (201, or 503 to retry elsewhere), none a closed connection."""
    async with httpx.AsyncClient() as admin:
        for round_ in range(3):
            workdir = tmp_path / f"round{round_}"
            workdir.mkdir()
            server = AppServer(settings, workdir, log_level="info")
            await server.start()
            if round_ == 0:
                r = await admin.post(
                    f"{server.url}/api/blogs",
                    json={"slug": SLUG, "title": "Drain"},
                    headers=tokens.auth("admin"),
                )
                assert r.status_code == 201
            clients = [
                httpx.AsyncClient(base_url=server.url, headers=tokens.auth("editor"), timeout=10)
                for _ in range(12)
            ]
            for client in clients:  # a kept-alive connection each
                assert (await client.get("/healthz")).status_code == 200

            async def post(client: httpx.AsyncClient, delay: float) -> httpx.Response:
                await asyncio.sleep(delay)
                return await client.post(f"/api/blogs/{SLUG}/entries", json={"body": "in time"})

            posts = [
                asyncio.create_task(post(client, n / 1000)) for n, client in enumerate(clients)
            ]
            await asyncio.sleep(0.012)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*posts, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(None, server.process.wait)
            for client in clients:
                await client.aclose()
            assert all(isinstance(a, httpx.Response) for a in answers), answers
            assert {a.status_code for a in answers} <= {201, 503}  # type: ignore[union-attr]
            assert errors_in(server) == []
