"""The live audience on one instance: counted as readers come and go, asked for by the
newsroom, shown to readers of blogs that opt in."""

import asyncio

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from tests.conftest import StartServer, Tokens


async def audience(client: httpx.AsyncClient, tokens: Tokens, slug: str = "night") -> int:
    r = await client.get(f"/api/blogs/{slug}/audience", headers=tokens.auth("reporter"))
    assert r.status_code == 200, r.text
    return int(r.json()["readers"])


async def until_counted(client: httpx.AsyncClient, tokens: Tokens, readers: int) -> None:
    """Within 5 s, the audience endpoint says `readers`."""
    for _ in range(100):
        if await audience(client, tokens) == readers:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {readers} readers within 5 s")


async def test_readers_are_counted_as_they_come_and_go_and_shown_if_the_blog_wants(
    start_server: StartServer, tokens: Tokens
) -> None:
    server = await start_server(audience_seconds=0.1)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}")
    admin = tokens.auth("admin")
    r = await client.post("/api/blogs", json={"slug": "night", "title": "Night"}, headers=admin)
    assert r.status_code == 201 and r.json()["show_audience"] is False
    assert (await client.get("/api/blogs/night/audience")).status_code == 401
    assert (await client.get("/api/blogs/nope/audience", headers=admin)).status_code == 404
    assert await audience(client, tokens) == 0

    url = f"ws://127.0.0.1:{server.port}/ws/blogs/night"
    async with connect(url) as one, connect(url) as two:
        hello = orjson.loads(await one.recv())
        assert "audience" not in hello  # the blog does not show it
        await two.recv()
        async with client.stream("GET", "/blogs/night/events") as sse:
            await until_counted(client, tokens, 3)

            r = await client.patch("/api/blogs/night", json={"show_audience": True}, headers=admin)
            assert r.status_code == 200 and r.json()["show_audience"] is True
            async with connect(url) as three:
                hello = orjson.loads(await three.recv())
                assert hello["type"] == "hello" and hello["audience"] >= 3
                # Readers hear the count as a notice: no offset, nothing logged.
                offset = (await client.get("/api/blogs/night")).json()["offset"]
                while True:
                    event = orjson.loads(await asyncio.wait_for(one.recv(), 5))
                    if event["type"] == "audience":
                        break
                assert "offset" not in event and event["readers"] >= 3
                assert (await client.get("/api/blogs/night")).json()["offset"] == offset
                # SSE readers get it without an id: Last-Event-ID stays the last event's.
                async for line in sse.aiter_lines():
                    if '"audience"' in line:
                        assert line.startswith("data: ")
                        break
                    assert not line.startswith("id: -")
                await until_counted(client, tokens, 4)
    await until_counted(client, tokens, 0)
    await client.aclose()


@pytest.mark.parametrize("protocol", ["edge", "httptools"])
async def test_the_newsrooms_own_view_is_not_counted(
    start_server: StartServer, tokens: Tokens, protocol: str
) -> None:
    # Our edge protocols, and the ASGI routes that serve readers behind other servers.
    overrides = {} if protocol == "edge" else {"http": "httptools"}
    server = await start_server(audience_seconds=0.1, uvicorn_overrides=overrides)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    r = await client.post(
        "/api/blogs", json={"slug": "night", "title": "Night"}, headers=tokens.auth("admin")
    )
    assert r.status_code == 201
    url = f"ws://127.0.0.1:{server.port}/ws/blogs/night"
    async with (
        connect(f"{url}?audience=no") as newsroom,
        client.stream("GET", "/blogs/night/events?since=0&audience=no") as monitor,
    ):
        assert orjson.loads(await newsroom.recv())["type"] == "hello"
        async for line in monitor.aiter_lines():
            if line.startswith("data: "):
                break  # the hello: it has joined
        async with connect(url) as reader, connect(f"{url}?audience=yes") as another:
            await reader.recv()
            await another.recv()
            await until_counted(client, tokens, 2)  # (4 if the two watching counted)
        await until_counted(client, tokens, 0)
        await newsroom.send("ping")  # both still connected: nothing closed them
    await client.aclose()
