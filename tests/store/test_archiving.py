"""Archives: an ended blog older than ARCHIVE_AFTER_DAYS is archived, once: its page is a
still document kept a day (no live client), readers still connected are told and closed
(4410; SSE 410 on their return), the API still reads it, and reopening undoes it all."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.domain.models import Blog, now
from app.live.wire import CloseCode
from app.services import services
from app.store.archiving import archive_ended
from app.store.db import Database
from tests.conftest import LiveServer, StartServer, Tokens
from tests.live.test_joining import reader


class Nobody:
    def publish(self, event: object) -> None:
        pass


async def make_blog(client: httpx.AsyncClient, tokens: Tokens, slug: str, end: bool) -> None:
    await client.post("/api/blogs", json={"slug": slug, "title": slug.title()},
                      headers=tokens.auth("admin"))  # fmt: skip
    await client.post(f"/api/blogs/{slug}/entries", json={"body": f"{slug} news"},
                      headers=tokens.auth("editor"))  # fmt: skip
    if end:
        ended = await client.patch(
            f"/api/blogs/{slug}", json={"status": "ended"}, headers=tokens.auth("admin")
        )
        assert ended.status_code == 200


async def test_ended_blogs_past_the_age_are_archived_once(
    client: httpx.AsyncClient, tokens: Tokens, db: Database
) -> None:
    await make_blog(client, tokens, "old", end=True)
    await make_blog(client, tokens, "recent", end=True)
    await make_blog(client, tokens, "running", end=False)
    async with db.write() as session:
        await session.execute(
            update(Blog).where(col(Blog.slug) == "old").values(ended_at=now() - timedelta(days=31))
        )
    assert await archive_ended(db, Nobody(), timedelta(days=30)) == 1
    assert await archive_ended(db, Nobody(), timedelta(days=30)) == 0  # once
    blogs = {b["slug"]: b for b in (await client.get("/api/blogs")).json()["blogs"]}
    assert blogs["old"]["archived_at"] is not None
    assert blogs["old"]["status"] == "ended"
    assert blogs["recent"]["archived_at"] is None
    assert blogs["running"]["archived_at"] is None


async def test_readers_are_told_and_closed_and_the_page_stands_still(
    start_server: StartServer, tokens: Tokens
) -> None:
    server: LiveServer = await start_server()
    db: Database = services(server.app).db
    hub = services(server.app).hub
    async with httpx.AsyncClient(base_url=server.url) as client:
        await make_blog(client, tokens, "storm", end=True)
        async with reader(server, slug="storm") as socket:
            hello = await socket.next()
            assert hello["blog"]["archived_at"] is None
            assert await archive_ended(db, hub, timedelta(0)) == 1
            told = await socket.next()
            assert told["type"] == "blog.updated"
            assert told["blog"]["archived_at"] is not None
            with pytest.raises(ConnectionClosed) as closed:
                await socket.next()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.ARCHIVED
        # Coming back is refused the same way; SSE with 410, which ends an EventSource.
        async with connect(f"{server.ws_url}/ws/blogs/storm") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.ARCHIVED
        events = await client.get("/blogs/storm/events")
        assert events.status_code == 410
        page = await client.get("/blogs/storm")
        assert page.status_code == 200
        assert " data-archive" in page.text  # the client reads it, follows nothing
        assert page.headers["cache-control"] == "public, max-age=86400"
        assert "storm news" in page.text
        assert (await client.get("/api/blogs/storm/entries")).json()["entries"]
        # Reopened: live again, for pages and readers.
        reopened = await client.patch(
            "/api/blogs/storm", json={"status": "live"}, headers=tokens.auth("admin")
        )
        assert reopened.json()["archived_at"] is None
        page = await client.get("/blogs/storm")
        assert " data-archive" not in page.text
        assert page.headers["cache-control"] == "public, max-age=0, must-revalidate"
        async with reader(server, slug="storm") as socket:
            assert (await socket.next())["type"] == "hello"
