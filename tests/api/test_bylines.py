"""Bylines on both databases: profiles kept by admins, tokens tied to them, entries with
several authors, renames shown on old entries and told to their blogs' readers."""

import re

import httpx
import orjson
from sqlalchemy import select
from sqlmodel import col

from app.domain.models import Event
from app.store.db import Database
from tests.conftest import Tokens

Blog = dict[str, object]


async def profile(client: httpx.AsyncClient, tokens: Tokens, **fields: object) -> int:
    r = await client.post("/api/authors", json=fields, headers=tokens.auth("admin"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def post(client: httpx.AsyncClient, headers: dict[str, str], **payload: object) -> dict:
    r = await client.post("/api/blogs/election-night/entries", json=payload, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def logged(db: Database, kind: str) -> list[dict[str, object]]:
    async with db.read() as session:
        rows = await session.scalars(select(col(Event.data)).where(col(Event.type) == kind))
        return [orjson.loads(data) for data in rows]


async def test_profiles_are_the_admins(client: httpx.AsyncClient, tokens: Tokens) -> None:
    ann = await profile(
        client, tokens, name="Ann Lee", role="Kyiv correspondent",
        photo_url="/media/ann.jpg", url="https://news.example/ann",
    )  # fmt: skip
    got = (await client.get(f"/api/authors/{ann}")).json()
    assert got == {"id": ann, "name": "Ann Lee", "role": "Kyiv correspondent",
                   "photo_url": "/media/ann.jpg", "url": "https://news.example/ann"}  # fmt: skip
    listed = await client.get("/api/authors", headers=tokens.auth("reporter"))
    assert [a["name"] for a in listed.json()["authors"]] == ["Ann Lee"]
    assert (await client.get("/api/authors")).status_code == 401
    for role in ("editor", "reporter", "contributor"):
        r = await client.post("/api/authors", json={"name": "X"}, headers=tokens.auth(role))
        assert r.status_code == 403
    for bad in (
        {"name": ""},
        {"name": "X", "url": "javascript:alert(1)"},
        {"name": "X", "photo_url": "data:image/png;base64,AA"},
        {"name": "X", "url": 'https://a/"><script>'},
        {"name": "X", "url": "https://a/\x00"},  # no control character is part of a URL
        {"name": "X", "photo_url": "/media/a\x07.jpg"},
        {"name": "X", "extra": 1},
    ):
        r = await client.post("/api/authors", json=bad, headers=tokens.auth("admin"))
        assert r.status_code == 422, bad
    assert (await client.get("/api/authors/999")).status_code == 404


async def test_a_tied_token_bylines_its_entries(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    ann = await profile(client, tokens, name="Ann Lee", role="Reporter")
    bob = await profile(client, tokens, name="Bob Diaz")
    me = await client.get("/api/me", headers=tokens.auth("reporter"))
    tied = await client.patch(
        f"/api/tokens/{me.json()['id']}", json={"author_id": ann}, headers=tokens.auth("admin")
    )
    assert tied.status_code == 200 and tied.json()["author_id"] == ann
    assert (await client.get("/api/me", headers=tokens.auth("reporter"))).json()["author_id"] == ann

    own = await post(client, tokens.auth("reporter"), body="Mine")
    assert [a["name"] for a in own["authors"]] == ["Ann Lee"]
    assert own["author"] == "Rita Reporter"  # the token's name stays, as before
    both = await post(client, tokens.auth("reporter"), body="Ours", authors=[bob, ann, bob])
    assert [a["id"] for a in both["authors"]] == [bob, ann]
    untied = await post(client, tokens.auth("editor"), body="No profile")
    assert untied["authors"] == []

    r = await client.post("/api/blogs/election-night/entries", json={"body": "x", "authors": [99]},
                          headers=tokens.auth("editor"))  # fmt: skip
    assert r.status_code == 422
    r = await client.post("/api/blogs/election-night/entries", json={"body": "x", "authors": [ann]},
                          headers=tokens.auth("contributor"))  # fmt: skip
    assert r.status_code == 403
    url = f"/api/blogs/election-night/entries/{untied['id']}"
    changed = await client.patch(url, json={"authors": [bob]}, headers=tokens.auth("editor"))
    assert [a["name"] for a in changed.json()["authors"]] == ["Bob Diaz"]
    bad = await client.patch(url, json={"authors": [98]}, headers=tokens.auth("editor"))
    assert bad.status_code == 422

    # The author filter.
    listed = await client.get("/api/blogs/election-night/entries", params={"author": bob})
    assert [e["id"] for e in listed.json()["entries"]] == [untied["id"], both["id"]]

    # Untied, the token's entries carry no profile again.
    await client.patch(f"/api/tokens/{me.json()['id']}", json={"author_id": None},
                       headers=tokens.auth("admin"))  # fmt: skip
    later = await post(client, tokens.auth("reporter"), body="Later")
    assert later["authors"] == []
    tokens_list = (await client.get("/api/tokens", headers=tokens.auth("admin"))).json()
    assert {t["name"]: t["author_id"] for t in tokens_list["tokens"]}["Rita Reporter"] is None
    desk = {"name": "Desk", "role": "reporter", "author_id": bob}
    made = await client.post("/api/tokens", json=desk, headers=tokens.auth("admin"))
    assert made.json()["author_id"] == bob
    unknown = {**desk, "author_id": 97}
    refused = await client.post("/api/tokens", json=unknown, headers=tokens.auth("admin"))
    assert refused.status_code == 422


async def test_a_rename_shows_on_old_entries(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    ann = await profile(client, tokens, name="Ann Lee", role="Reporter")
    entry = await post(client, tokens.auth("editor"), body="Old news", authors=[ann])
    await client.post("/api/blogs", json={"slug": "other", "title": "Other"},
                      headers=tokens.auth("admin"))  # fmt: skip
    page = (await client.get("/blogs/election-night")).text
    assert '<a class="byline-name" href="/blogs/election-night?author=' in page
    before = (await client.get("/api/blogs/election-night")).json()["offset"]

    renamed = await client.patch(
        f"/api/authors/{ann}", json={"name": "Ann Lee-Park", "role": "Bureau chief"},
        headers=tokens.auth("admin"),
    )  # fmt: skip
    assert renamed.status_code == 200
    got = await client.get(f"/api/blogs/election-night/entries/{entry['id']}")
    assert got.json()["authors"][0]["name"] == "Ann Lee-Park"
    # Its blog's readers are told (one event, its offset next); other blogs are not.
    after = (await client.get("/api/blogs/election-night")).json()
    assert after["offset"] == before + 1
    told = await logged(db, "author.updated")
    assert [e["author"]["name"] for e in told] == ["Ann Lee-Park"]
    assert (await client.get("/api/blogs/other")).json()["offset"] == 0
    # Pages, the feed and the JSON-LD show it (the cached page moved with the offset).
    page = (await client.get("/blogs/election-night")).text
    assert '<bdi>Ann Lee-Park</bdi></a> <span class="byline-role">Bureau chief</span>' in page
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert ld is not None
    update = orjson.loads(ld.group(1))["liveBlogUpdate"][0]
    assert update["author"] == [{"@type": "Person", "name": "Ann Lee-Park",
                                 "jobTitle": "Bureau chief"}]  # fmt: skip
    feed = (await client.get("/blogs/election-night/feed.atom")).text
    assert "<author><name>Ann Lee-Park</name></author>" in feed
    filtered = (await client.get(f"/blogs/election-night?author={ann}")).text
    assert "Updates by Ann Lee-Park." in filtered
    # Nothing changed, nothing told.
    same = await client.patch(f"/api/authors/{ann}", json={"name": "Ann Lee-Park"},
                              headers=tokens.auth("admin"))  # fmt: skip
    assert same.status_code == 200 and len(await logged(db, "author.updated")) == 1


async def test_a_profile_on_published_entries_stays(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    ann = await profile(client, tokens, name="Ann Lee")
    spare = await profile(client, tokens, name="Spare")
    await post(client, tokens.auth("editor"), body="On the record", authors=[ann])
    kept = await client.delete(f"/api/authors/{ann}", headers=tokens.auth("admin"))
    assert kept.status_code == 409
    assert (
        await client.delete(f"/api/authors/{spare}", headers=tokens.auth("editor"))
    ).status_code == 403
    me = (await client.get("/api/me", headers=tokens.auth("reporter"))).json()
    await client.patch(f"/api/tokens/{me['id']}", json={"author_id": spare},
                       headers=tokens.auth("admin"))  # fmt: skip
    gone = await client.delete(f"/api/authors/{spare}", headers=tokens.auth("admin"))
    assert gone.status_code == 204
    assert (await client.get(f"/api/authors/{spare}")).status_code == 404
    # Its tokens are untied with it: their entries carry no profile.
    assert (await client.get("/api/me", headers=tokens.auth("reporter"))).json()[
        "author_id"
    ] is None
    assert (await post(client, tokens.auth("reporter"), body="After"))["authors"] == []
