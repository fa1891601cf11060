"""WebSub: with WEBSUB_HUB_URL the Atom feeds name the hub, and the instance that made a
change tells the hub (a real HTTP server on loopback) the blog's feed changed: a burst of
posts is one ping or two, a slow hub delays no post, a refused ping is sent again."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import Settings
from tests.conftest import StartServer, Tokens
from tests.servers import free_port, on_loopback, until


@dataclass
class Hub:
    """A WebSub hub's publishing end: it takes pings and, as hubs do, fetches the topic."""

    url: str = ""
    pings: list[dict[str, str]] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    refuse: int = 0  # answer this many pings 500 first
    delay: float = 0.0

    async def publish(self, request: Request) -> Response:
        form = await request.form()
        await asyncio.sleep(self.delay)
        if self.refuse > 0:
            self.refuse -= 1
            return Response(status_code=500)
        ping = {key: str(value) for key, value in form.items()}
        self.pings.append(ping)
        async with httpx.AsyncClient() as client:
            feed = await client.get(ping["hub.url"])
        self.fetched.append(feed.text)
        return Response(status_code=204)


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    found = Hub()
    async with on_loopback(Starlette(routes=[Route("/", found.publish, methods=["POST"])])) as url:
        found.url = url + "/"
        yield found


async def websub_server(start_server: StartServer, hub: Hub) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    await start_server(port=port, websub_hub_url=hub.url, public_url=url)
    return url


async def test_feeds_name_the_hub_and_each_burst_of_changes_is_pinged(
    start_server: StartServer, tokens: Tokens, hub: Hub
) -> None:
    url = await websub_server(start_server, hub)
    async with httpx.AsyncClient(base_url=url) as client:
        await client.post("/api/blogs", json={"slug": "wire", "title": "Wire"},
                          headers=tokens.auth("admin"))  # fmt: skip
        feed = (await client.get("/blogs/wire/feed.atom")).text
        assert f'<link rel="hub" href="{hub.url}"/>' in feed
        assert (
            f'<link rel="self" type="application/atom+xml" href="{url}/blogs/wire/feed.atom"/>'
            in feed
        )
        for n in range(5):
            posted = await client.post(
                "/api/blogs/wire/entries", json={"body": f"Update {n}"},
                headers=tokens.auth("editor"),
            )  # fmt: skip
            assert posted.status_code == 201
        await until(lambda: hub.fetched and "Update 4" in hub.fetched[-1])
        await asyncio.sleep(1.5)  # nothing more is coming
        assert 1 <= len(hub.pings) <= 2
        assert hub.pings[0] == {"hub.mode": "publish", "hub.url": f"{url}/blogs/wire/feed.atom"}
        # An edit is a change of the feed too.
        entry_id = posted.json()["id"]
        await client.patch(f"/api/blogs/wire/entries/{entry_id}", json={"body": "Corrected"},
                           headers=tokens.auth("editor"))  # fmt: skip
        await until(lambda: "Corrected" in hub.fetched[-1])


async def test_a_slow_or_failing_hub_delays_no_post_and_is_pinged_again(
    start_server: StartServer, tokens: Tokens, hub: Hub
) -> None:
    hub.delay, hub.refuse = 1.0, 1
    url = await websub_server(start_server, hub)
    async with httpx.AsyncClient(base_url=url) as client:
        await client.post("/api/blogs", json={"slug": "wire", "title": "Wire"},
                          headers=tokens.auth("admin"))  # fmt: skip
        took = []
        for n in range(3):
            began = time.monotonic()
            await client.post("/api/blogs/wire/entries", json={"body": f"Update {n}"},
                              headers=tokens.auth("editor"))  # fmt: skip
            took.append(time.monotonic() - began)
            await asyncio.sleep(0.6)
        assert max(took) < 0.5  # the hub's second per ping is not the post's
        await until(lambda: hub.pings, seconds=15)  # refused once, then sent again
        assert hub.refuse == 0
        await until(lambda: bool(hub.fetched) and "Update 2" in hub.fetched[-1], seconds=15)


async def test_no_hub_is_named_without_one(start_server: StartServer, tokens: Tokens) -> None:
    server = await start_server()
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/api/blogs", json={"slug": "wire", "title": "Wire"},
                          headers=tokens.auth("admin"))  # fmt: skip
        assert 'rel="hub"' not in (await client.get("/blogs/wire/feed.atom")).text


def test_a_hub_needs_the_public_address() -> None:
    with pytest.raises(ValidationError, match="PUBLIC_URL"):
        Settings(websub_hub_url="https://hub.example/")
