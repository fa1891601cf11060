"""A Redis Cluster as the broker (`redis+cluster://`): each blog's doorbells by sharded
pub/sub on the shard that owns its channel's slot, through a master's failover; readers of
two instances on it miss nothing and see nothing twice."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect

from app.config import Settings
from app.live.audience import PREFIX as AUDIENCE
from app.live.broker import RedisBroker, channel_of
from app.store.eventlog import LoggedEvent
from app.store.rate_limits import SharedRateLimit
from app.store.redis_client import redis_client
from tests.conftest import Tokens
from tests.servers import AppServer, RedisCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    cluster = RedisCluster(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def spread(cluster: RedisCluster, count: int) -> list[int]:
    """Blogs whose channels are on three different masters."""
    blogs: dict[int, int] = {}
    for blog in range(1, 200):
        blogs.setdefault(cluster.master_of(channel_of(blog)), blog)
        if len(blogs) == count:
            return sorted(blogs.values())
    raise AssertionError("the channels did not spread over the masters")


async def test_sharded_doorbells_follow_a_failover(cluster: RedisCluster) -> None:
    heard: list[LoggedEvent] = []
    listening = RedisBroker(cluster.url, reconnect_seconds=0.1)
    sending = RedisBroker(cluster.url, reconnect_seconds=0.1)

    async def nothing() -> None:
        pass

    await listening.start(heard.append, nothing, lambda *_: None)
    await sending.start(lambda _: None, nothing, lambda *_: None)
    try:
        blogs = spread(cluster, 3)
        for blog in blogs:
            await listening.watch(blog)
        for blog in blogs:
            sending.publish(LoggedEvent(blog, 1, "entry.created", b"{}"))
        sending.publish(LoggedEvent(999, 1, "entry.created", b"{}"))  # not watched
        deadline = time.monotonic() + 10
        while len(heard) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert sorted(e.blog_id for e in heard) == blogs
        # The shard of the first blog's channel loses its master; its replica takes over.
        cluster.kill(cluster.master_of(channel_of(blogs[0])))
        await asyncio.to_thread(cluster.until_ok)
        offset = 2
        deadline = time.monotonic() + 30
        while not any(e.offset > 1 and e.blog_id == blogs[0] for e in heard):
            assert time.monotonic() < deadline, "the subscription did not follow the failover"
            sending.publish(LoggedEvent(blogs[0], offset, "entry.created", b"{}"))
            offset += 1
            await asyncio.sleep(0.2)
        assert 999 not in {e.blog_id for e in heard}
    finally:
        await listening.stop()
        await sending.stop()


async def test_audience_and_rate_keys_work_on_a_cluster(cluster: RedisCluster) -> None:
    """The audience's transaction keeps its keys in one slot (and reads one clock); the
    shared post rate is one key a call."""
    client = redis_client(cluster.url, 2)
    limit = SharedRateLimit(cluster.url, "rate", per_minute=60, burst=2)
    try:
        seconds, microseconds = await client.time()
        assert abs(seconds - time.time()) < 5 and 0 <= microseconds < 1_000_000
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(f"{AUDIENCE}:x", mapping={"1": 2})
            pipe.zadd(f"{AUDIENCE}:instances", {"x": 1})
            assert await pipe.execute() == [1, 1]
        assert [await limit.check("token") for _ in range(2)] == [0.0, 0.0]
        assert await limit.check("token") > 0  # past the burst, on the cluster's clock
        assert await limit.check("other") == 0.0  # another key, maybe another shard
    finally:
        await client.aclose()
        await limit.close()


pytestmark_postgres = pytest.mark.parametrize("settings", ["postgres"], indirect=True)


class Reader:
    def __init__(self, server: AppServer, slug: str) -> None:
        self.offsets: list[int] = []
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._read(f"{server.ws_url}/ws/blogs/{slug}?since=0"))

    async def _read(self, url: str) -> None:
        async with connect(url) as ws:
            async for message in ws:
                event = orjson.loads(message)
                if event["type"] == "hello":
                    self.ready.set()
                else:
                    self.offsets.append(event["offset"])

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


@pytest.fixture
async def two_on_the_cluster(
    settings: Settings, tokens: Tokens, cluster: RedisCluster, tmp_path: Path
) -> AsyncIterator[tuple[AppServer, AppServer]]:
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        server = AppServer(settings, workdir, broker_url=cluster.url, hub_catchup_seconds="1")
        await server.start()
        servers.append(server)
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


@pytestmark_postgres
async def test_readers_on_a_cluster_miss_nothing_through_a_failover(
    two_on_the_cluster: tuple[AppServer, AppServer],
    tokens: Tokens,
    cluster: RedisCluster,
    settings: Settings,
) -> None:
    a, b = two_on_the_cluster
    slugs = ["one", "two", "three"]
    async with httpx.AsyncClient(base_url=a.url, headers=tokens.auth("admin")) as api:
        for slug in slugs:
            made = await api.post("/api/blogs", json={"slug": slug, "title": slug})
            assert made.status_code == 201, made.text
        engine = create_async_engine(settings.database_url)
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT id FROM blog WHERE slug = 'one'"))
        await engine.dispose()
        readers = {slug: [Reader(b, slug), Reader(a, slug)] for slug in slugs}
        for reader in (r for pair in readers.values() for r in pair):
            await asyncio.wait_for(reader.ready.wait(), 10)

        async def post(round_: int) -> None:
            for slug in slugs:
                r = await api.post(f"/api/blogs/{slug}/entries", json={"body": f"n{round_}"})
                assert r.status_code == 201, r.text

        for round_ in range(5):
            await post(round_)
        cluster.kill(cluster.master_of(channel_of(first)))  # mid-stream
        for round_ in range(5, 15):
            await post(round_)
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(len(r.offsets) >= 15 for pair in readers.values() for r in pair):
                break
            await asyncio.sleep(0.1)
        for slug, pair in readers.items():
            for reader in pair:
                assert reader.offsets == list(range(1, 16)), (slug, reader.offsets)
                await reader.close()
