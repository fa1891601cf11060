"""The live audience across instances: counts summed through Redis, and an instance that
is killed drops out of the sum."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from app.config import Settings
from tests.conftest import Tokens
from tests.servers import AppServer, RedisServer

pytestmark = pytest.mark.parametrize("settings", ["postgres"], indirect=True)


async def count(server: AppServer, tokens: Tokens) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        r = await client.get(
            f"{server.url}/api/blogs/crowd/audience", headers=tokens.auth("editor")
        )
    assert r.status_code == 200, r.text
    return {"readers": r.json()["readers"], "instances": r.json()["instances"]}


async def until(server: AppServer, tokens: Tokens, want: dict[str, int], seconds: float) -> None:
    got: dict[str, int] = {}
    for _ in range(int(seconds / 0.1)):
        got = await count(server, tokens)
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{got} is not {want} after {seconds} s")


async def test_two_instances_sum_their_readers_and_a_killed_one_drops_out(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, tokens: Tokens, clean_db: None
) -> None:
    env = {"broker_url": f"redis://127.0.0.1:{redis_server.port}/0", "audience_seconds": "0.5"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = AppServer(settings, tmp_path / "a", **env)
    b = AppServer(settings, tmp_path / "b", workers=2, **env)
    try:
        await a.start()
        await b.start()
        async with httpx.AsyncClient() as client:
            r = await client.post(
                f"{a.url}/api/blogs", json={"slug": "crowd", "title": "Crowd"},
                headers=tokens.auth("admin"),
            )  # fmt: skip
            assert r.status_code == 201
        async with AsyncExitStack() as readers, httpx.AsyncClient(timeout=30) as sse:
            for server, n in ((a, 3), (b, 4)):
                for _ in range(n):
                    ws = await readers.enter_async_context(
                        connect(f"{server.ws_url}/ws/blogs/crowd")
                    )
                    await ws.recv()
            stream = await readers.enter_async_context(
                sse.stream("GET", f"{b.url}/blogs/crowd/events")
            )
            assert stream.status_code == 200
            # A (one worker) and B's two workers: 3 + 4 WebSocket + 1 SSE readers.
            await until(a, tokens, {"readers": 8, "instances": 3}, 10)
            await until(b, tokens, {"readers": 8, "instances": 3}, 10)

            a.kill()  # no goodbye: its count expires from Redis (three rounds, 3 s at least)
            await until(b, tokens, {"readers": 5, "instances": 2}, 8)
    finally:
        b.stop()
        if a.process is not None and a.process.poll() is None:
            a.stop()
