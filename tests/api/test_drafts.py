"""Drafts and scheduled entries: invisible to readers until published, published once."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy import select
from sqlmodel import col

from app.config import Settings
from app.domain.models import Event
from app.store.db import Database
from tests.conftest import StartServer, Tokens

Blog = dict[str, object]


def entries_url(blog: Blog) -> str:
    return f"/api/blogs/{blog['slug']}/entries"


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def offset(client: httpx.AsyncClient, blog: Blog) -> int:
    return int((await client.get(f"/api/blogs/{blog['slug']}")).json()["offset"])


async def logged_events(settings: Settings) -> list[dict[str, object]]:
    db = Database(settings)
    try:
        async with db.read() as session:
            rows = await session.scalars(select(col(Event.data)).order_by(col(Event.offset)))
            return [orjson.loads(data) for data in rows]
    finally:
        await db.dispose()


async def test_a_draft_is_seen_only_by_the_newsroom_until_published(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    reporter = tokens.auth("reporter")
    response = await client.post(
        entries_url(blog), json={"body": "Not yet", "status": "draft"}, headers=reporter
    )
    assert response.status_code == 201
    draft = response.json()
    assert draft["status"] == "draft"
    assert await offset(client, blog) == 0  # no event: readers learn nothing

    url = f"{entries_url(blog)}/{draft['id']}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=reporter)).json()["status"] == "draft"
    assert (await client.get(entries_url(blog))).json()["entries"] == []
    assert (await client.get(entries_url(blog), params={"status": "draft"})).status_code == 401
    listed = await client.get(entries_url(blog), params={"status": "draft"}, headers=reporter)
    assert [e["id"] for e in listed.json()["entries"]] == [draft["id"]]
    page = await client.get(f"/blogs/{blog['slug']}")
    assert "Not yet" not in page.text

    edited = await client.patch(url, json={"body": "Nearly"}, headers=reporter)
    assert edited.json()["updated_at"] is None  # not public yet: no "updated"
    assert await offset(client, blog) == 0

    published = await client.patch(url, json={"status": "published"}, headers=reporter)
    assert published.status_code == 200
    entry = published.json()
    assert entry["status"] == "published"
    assert entry["published_at"] > draft["published_at"]  # the moment it went out
    assert entry["version"] == 3
    assert await offset(client, blog) == 1
    assert (await client.get(url)).json() == entry
    assert "Nearly" in (await client.get(f"/blogs/{blog['slug']}")).text

    again = await client.patch(url, json={"status": "draft"}, headers=reporter)
    assert again.status_code == 409


async def test_deleting_a_draft_tells_readers_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    editor = tokens.auth("editor")
    draft = (
        await client.post(entries_url(blog), json={"body": "x", "status": "draft"}, headers=editor)
    ).json()
    deleted = await client.delete(f"{entries_url(blog)}/{draft['id']}", headers=editor)
    assert deleted.status_code == 204
    assert await offset(client, blog) == 0


async def test_schedule_rules(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    editor = tokens.auth("editor")
    bad = [
        {"body": "x", "status": "scheduled"},
        {"body": "x", "status": "draft", "publish_at": soon(60)},
        {"body": "x", "publish_at": "2030-01-01T10:00:00"},  # no time zone
    ]
    for payload in bad:
        response = await client.post(entries_url(blog), json=payload, headers=editor)
        assert response.status_code == 422, payload
    late = await client.post(
        entries_url(blog), json={"body": "x", "publish_at": soon(-5)}, headers=editor
    )
    assert late.json()["status"] == "published"  # a schedule already due: out at once
    later = await client.post(
        entries_url(blog), json={"body": "y", "publish_at": soon(3600)}, headers=editor
    )
    assert later.json()["status"] == "scheduled"
    url = f"{entries_url(blog)}/{later.json()['id']}"
    as_draft = await client.patch(url, json={"status": "draft"}, headers=editor)
    assert (as_draft.json()["status"], as_draft.json()["publish_at"]) == ("draft", None)
    assert await offset(client, blog) == 1


async def wait_published(client: httpx.AsyncClient, url: str, seconds: float) -> dict[str, object]:
    for _ in range(int(seconds * 20)):
        entry: dict[str, object] = (await client.get(url)).json()
        if entry.get("status") == "published":
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} was not published in {seconds} s")


async def test_scheduled_entry_is_published_on_time_after_a_restart(
    start_server: StartServer, settings: Settings, tokens: Tokens, blog: Blog
) -> None:
    first = await start_server(schedule_check_seconds=0.1)
    async with httpx.AsyncClient(base_url=first.url) as client:
        due = soon(1.0)
        response = await client.post(
            entries_url(blog),
            json={"body": "At noon", "publish_at": due},
            headers=tokens.auth("editor"),
        )
        url = f"{entries_url(blog)}/{response.json()['id']}"
    await first.stop()  # down when it falls due
    await asyncio.sleep(1.5)
    second = await start_server(schedule_check_seconds=0.1)
    async with httpx.AsyncClient(base_url=second.url) as client:
        entry = await wait_published(client, url, 5)
    assert str(entry["published_at"]) >= due.replace("+00:00", "Z")[:19]
    created = [e for e in await logged_events(settings) if e["type"] == "entry.created"]
    assert len(created) == 1


async def test_two_instances_publish_each_scheduled_entry_once(
    start_server: StartServer, settings: Settings, tokens: Tokens, blog: Blog
) -> None:
    servers = [await start_server(schedule_check_seconds=0.05) for _ in range(2)]
    editor = tokens.auth("editor")
    async with httpx.AsyncClient(base_url=servers[0].url) as client:
        due = soon(1.0)
        ids = []
        for n in range(10):
            response = await client.post(
                entries_url(blog), json={"body": f"Entry {n}", "publish_at": due}, headers=editor
            )
            ids.append(response.json()["id"])
        for entry_id in ids:
            await wait_published(client, f"{entries_url(blog)}/{entry_id}", 10)
    events = await logged_events(settings)
    assert [e["offset"] for e in events] == list(range(1, 11))
    published = sorted(e["entry"]["id"] for e in events if e["type"] == "entry.created")  # type: ignore[index]
    assert published == sorted(ids)
