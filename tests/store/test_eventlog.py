"""Offsets are 1, 2, 3, ... per blog, with no gap and no duplicate, however many write at once."""

import asyncio

import httpx
from sqlalchemy import select

from app.domain.models import Blog, Event
from app.store.db import Database
from tests.conftest import Tokens


async def offsets_of(db: Database, slug: str) -> list[int]:
    async with db.read() as session:
        blog = await session.scalar(select(Blog).where(Blog.slug == slug))
        assert blog is not None
        rows = await session.scalars(
            select(Event.offset).where(Event.blog_id == blog.id).order_by(Event.offset)  # type: ignore[arg-type]
        )
        return list(rows)


async def test_concurrent_posts_get_consecutive_offsets(
    client: httpx.AsyncClient, tokens: Tokens, db: Database
) -> None:
    for slug in ("north", "south"):
        await client.post(
            "/api/blogs", json={"slug": slug, "title": slug}, headers=tokens.auth("admin")
        )

    async def post(slug: str, n: int) -> httpx.Response:
        role = ("editor", "reporter", "other_reporter")[n % 3]
        return await client.post(
            f"/api/blogs/{slug}/entries", json={"body": f"{slug} {n}"}, headers=tokens.auth(role)
        )

    responses = await asyncio.gather(
        *(post(slug, n) for n in range(60) for slug in ("north", "south"))
    )
    assert [r.status_code for r in responses] == [201] * 120
    assert len({r.json()["id"] for r in responses}) == 120

    # Edits, deletes and blog changes race with more posts on the same blog.
    north = [r.json() for r in responses if r.json()["blog"] == "north"]
    mixed = (
        [
            client.patch(
                f"/api/blogs/north/entries/{e['id']}",
                json={"body": "edited"},
                headers=tokens.auth("editor"),
            )
            for e in north[:20]
        ]
        + [
            client.delete(f"/api/blogs/north/entries/{e['id']}", headers=tokens.auth("editor"))
            for e in north[20:30]
        ]
        + [post("north", n) for n in range(60, 80)]
        + [
            client.patch(
                "/api/blogs/north", json={"notice": f"notice {n}"}, headers=tokens.auth("admin")
            )
            for n in range(5)
        ]
    )
    results = await asyncio.gather(*mixed)
    assert all(r.status_code in (200, 201, 204) for r in results), [r.text for r in results]

    assert await offsets_of(db, "north") == list(range(1, 60 + 20 + 10 + 20 + 5 + 1))
    assert await offsets_of(db, "south") == list(range(1, 61))
    blog = (await client.get("/api/blogs/north")).json()
    assert blog["offset"] == 115
