"""A blog announced for later: "upcoming" with its `starts_at` until its first entry, which
takes it live by itself (readers who came early see it happen); its page says when it
starts and its JSON-LD carries the time."""

import json
import re
from datetime import UTC, datetime, timedelta

import httpx

from app.domain.models import now
from app.store.db import Database
from app.store.publishing import publish_due
from tests.conftest import StartServer, Tokens
from tests.live.test_joining import reader

START = "2030-06-01T18:00:00+00:00"


async def announce(client: httpx.AsyncClient, tokens: Tokens, slug: str = "count") -> dict:
    made = await client.post(
        "/api/blogs",
        json={"slug": slug, "title": "The count", "starts_at": START, "timezone": "Europe/Paris"},
        headers=tokens.auth("admin"),
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def jsonld(page: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found
    return dict(json.loads(found[1]))


async def test_an_announced_blog_goes_live_with_its_first_entry(
    start_server: StartServer, tokens: Tokens
) -> None:
    server = await start_server()
    async with httpx.AsyncClient(base_url=server.url) as client:
        blog = await announce(client, tokens)
        assert blog["status"] == "upcoming"
        assert blog["starts_at"] == "2030-06-01T18:00:00Z"
        page = (await client.get("/blogs/count")).text
        assert 'data-status="upcoming"' in page
        assert 'datetime="2030-06-01T18:00:00+00:00"' in page  # the reader's zone: the client's
        # In the blog's zone without JavaScript (CLDR puts a narrow space before PM).
        assert re.search(r"starts at <time [^>]+>8:00\sPM Jun 1</time>", page)
        assert jsonld(page)["coverageStartTime"] == START
        async with reader(server, slug="count") as socket:
            hello = await socket.next()
            assert hello["blog"]["status"] == "upcoming"
            posted = await client.post(
                "/api/blogs/count/entries", json={"body": "We are live."},
                headers=tokens.auth("editor"),
            )  # fmt: skip
            assert posted.status_code == 201
            went_live, created = await socket.next(), await socket.next()
        assert (went_live["type"], went_live["offset"]) == ("blog.updated", 1)
        assert went_live["blog"]["status"] == "live"
        assert (created["type"], created["offset"]) == ("entry.created", 2)
        live = (await client.get("/api/blogs/count")).json()
        assert live["status"] == "live"
        started = datetime.fromisoformat(live["starts_at"])
        assert abs(started - now()) < timedelta(minutes=1)  # when coverage really began
        page = (await client.get("/blogs/count")).text
        assert 'data-status="live"' in page
        assert jsonld(page)["coverageStartTime"] == started.isoformat()
        # The next entry is an entry like any other.
        await client.post(
            "/api/blogs/count/entries", json={"body": "More."}, headers=tokens.auth("editor")
        )
        assert (await client.get("/api/blogs/count")).json()["offset"] == 3


async def test_the_start_moves_until_it_happens(client: httpx.AsyncClient, tokens: Tokens) -> None:
    await announce(client, tokens)
    later = "2030-06-01T19:30:00+02:00"
    moved = await client.patch(
        "/api/blogs/count", json={"starts_at": later}, headers=tokens.auth("admin")
    )
    assert moved.status_code == 200
    assert moved.json()["starts_at"] == "2030-06-01T17:30:00Z"
    upcoming = await client.patch(
        "/api/blogs/count", json={"status": "upcoming"}, headers=tokens.auth("admin")
    )
    assert upcoming.status_code == 422
    started = await client.patch(
        "/api/blogs/count", json={"status": "live"}, headers=tokens.auth("admin")
    )
    assert started.json()["status"] == "live"
    assert datetime.fromisoformat(started.json()["starts_at"]) > datetime(2026, 1, 1, tzinfo=UTC)
    # A blog with no entry out may be announced again; once one is out, it has started.
    again = await client.patch(
        "/api/blogs/count", json={"starts_at": START}, headers=tokens.auth("admin")
    )
    assert again.json()["status"] == "upcoming"
    await client.post(
        "/api/blogs/count/entries", json={"body": "Live."}, headers=tokens.auth("editor")
    )
    refused = await client.patch(
        "/api/blogs/count", json={"starts_at": START}, headers=tokens.auth("admin")
    )
    assert refused.status_code == 409
    assert (await client.get("/api/blogs/count")).json()["status"] == "live"


async def test_a_scheduled_first_entry_starts_it_and_lists_put_it_after_live_ones(
    client: httpx.AsyncClient, tokens: Tokens, db: Database, blog: dict[str, object]
) -> None:
    await announce(client, tokens)
    order = [b["slug"] for b in (await client.get("/api/blogs")).json()["blogs"]]
    assert order == ["election-night", "count"]
    soon = (now() + timedelta(seconds=1)).isoformat()
    await client.post(
        "/api/blogs/count/entries",
        json={"body": "At the hour.", "status": "scheduled", "publish_at": soon},
        headers=tokens.auth("editor"),
    )
    assert (await client.get("/api/blogs/count")).json()["status"] == "upcoming"  # a plan only

    class Nobody:
        def publish(self, event: object) -> None:
            pass

    assert await publish_due(db, Nobody(), now() + timedelta(seconds=2)) == 1
    assert (await client.get("/api/blogs/count")).json()["status"] == "live"
    bad = await client.post(
        "/api/blogs",
        json={"slug": "bad", "title": "Bad", "starts_at": "tomorrow"},
        headers=tokens.auth("admin"),
    )
    assert bad.status_code == 422
