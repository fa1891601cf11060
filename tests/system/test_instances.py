"""Several instances on one Postgres and one Redis: a post on one reaches readers on all,
gapless and duplicate-free even when Redis goes away and comes back mid-stream."""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from app.config import Settings
from tests.conftest import Tokens
from tests.servers import LIVEUPDATES, RedisServer, free_port, wait_for_port

pytestmark = pytest.mark.parametrize("settings", ["postgres"], indirect=True)


@pytest.fixture
def instances(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, clean_db: None
) -> Iterator[list[str]]:
    """Instance A (one worker) and instance B (two workers), sharing Postgres and Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "HUB_CATCHUP_SECONDS": "0.5",
        "POST_RATE_PER_MINUTE": "0",
    }
    processes = []
    urls = []
    for name, workers in (("a", 1), ("b", 2)):
        port = free_port()
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [LIVEUPDATES, "serve", "--port", str(port), "--workers", str(workers)],
                    env=env,
                    cwd=tmp_path,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        urls.append(f"127.0.0.1:{port}")
    for url in urls:
        wait_for_port(int(url.split(":")[1]))
    yield urls
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


async def made_blog(api: httpx.AsyncClient, tokens: Tokens) -> None:
    made = await api.post(
        "/api/blogs", json={"slug": "multi", "title": "Multi"}, headers=tokens.auth("admin")
    )
    assert made.status_code == 201


async def ws_offsets(url: str, last: int, ready: asyncio.Event) -> list[int]:
    offsets: list[int] = []
    async with connect(f"ws://{url}/ws/blogs/multi") as ws:
        assert orjson.loads(await ws.recv())["type"] == "hello"
        ready.set()
        while not offsets or offsets[-1] < last:
            event = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
            offsets.append(event["offset"])
    return offsets


async def sse_offsets(url: str, last: int, ready: asyncio.Event) -> list[int]:
    offsets: list[int] = []
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", f"http://{url}/blogs/multi/events") as response:
            lines: AsyncIterator[str] = response.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    event = orjson.loads(line[6:])
                    if event["type"] == "hello":
                        ready.set()
                        continue
                    offsets.append(event["offset"])
                    if event["offset"] >= last:
                        break
    return offsets


async def test_posts_reach_readers_on_every_instance_through_redis_outage(
    instances: list[str], redis_server: RedisServer, tokens: Tokens
) -> None:
    a, b = instances
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=30) as api:
        r = await api.post(
            "/api/blogs", json={"slug": "multi", "title": "Multi"}, headers=tokens.auth("admin")
        )
        assert r.status_code == 201
        total = 60
        readers = []
        for url, kind in ((b, ws_offsets), (b, ws_offsets), (b, sse_offsets), (a, ws_offsets)):
            ready = asyncio.Event()
            readers.append(asyncio.create_task(kind(url, total, ready)))
            await asyncio.wait_for(ready.wait(), 10)

        async def post(n: int) -> None:
            r = await api.post(
                "/api/blogs/multi/entries", json={"body": f"#{n}"}, headers=tokens.auth("editor")
            )
            assert r.status_code == 201, r.text

        for n in range(20):
            await post(n)
        redis_server.kill()
        for n in range(20, 40):
            await post(n)  # the API keeps accepting posts while Redis is down
        redis_server.start()
        for n in range(40, total):
            await post(n)

        results = await asyncio.wait_for(asyncio.gather(*readers), 60)
    for offsets in results:
        assert offsets == list(range(1, total + 1))


async def test_the_results_box_reaches_readers_on_every_instance(
    instances: list[str], tokens: Tokens
) -> None:
    a, b = instances
    box = {"kind": "rows", "title": "Turnout", "rows": [{"label": "By noon", "value": "31%"}]}
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=30) as api:
        await made_blog(api, tokens)
        async with connect(f"ws://{b}/ws/blogs/multi") as ws:
            hello = orjson.loads(await ws.recv())
            assert hello["blog"]["box"] is None
            put = await api.put("/api/blogs/multi/box", json=box, headers=tokens.auth("editor"))
            assert put.status_code == 200
            event = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert event["type"] == "blog.updated" and event["blog"]["box"] == {**box, "note": ""}
    for url in (a, b, b):  # B's two workers: whichever takes the connection
        async with connect(f"ws://{url}/ws/blogs/multi") as ws:
            assert orjson.loads(await ws.recv())["blog"]["box"]["rows"][0]["value"] == "31%"


async def test_a_question_asked_on_one_instance_reaches_desks_on_the_other(
    instances: list[str], tokens: Tokens
) -> None:
    a, b = instances
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=30) as api:
        await made_blog(api, tokens)
        await api.patch(
            "/api/blogs/multi", json={"accepts_questions": True}, headers=tokens.auth("admin")
        )
        async with (
            httpx.AsyncClient(base_url=f"http://{b}", timeout=30) as desk_client,
            desk_client.stream(
                "GET", "/api/blogs/multi/desk", headers=tokens.auth("reporter")
            ) as desk,
        ):
            lines = desk.aiter_lines()

            async def next_notice() -> dict[str, object]:
                async for line in lines:
                    if line.startswith("data: "):
                        return dict(orjson.loads(line[6:]))
                raise AssertionError("the desk stream ended")

            assert await asyncio.wait_for(next_notice(), 10) == {
                "type": "questions",
                "questions": [],
            }
            asked = await api.post(
                "/api/blogs/multi/questions", json={"question": "Which way?", "name": "Cy"}
            )
            assert asked.status_code == 201
            notice = await asyncio.wait_for(next_notice(), 10)
            assert notice == {"type": "question.asked", "question": asked.json()}
            await api.delete(
                f"/api/blogs/multi/questions/{asked.json()['id']}", headers=tokens.auth("editor")
            )
            closed = await asyncio.wait_for(next_notice(), 10)
            assert closed["type"] == "question.closed"


async def test_votes_on_every_instance_make_one_result(
    instances: list[str], tokens: Tokens
) -> None:
    a, b = instances
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=30) as api:
        await made_blog(api, tokens)
        entry = await api.post(
            "/api/blogs/multi/entries",
            json={"body": "Poll", "poll": {"options": ["A", "B"]}},
            headers=tokens.auth("editor"),
        )
        entry_id = entry.json()["id"]
        async with connect(f"ws://{b}/ws/blogs/multi") as ws:
            orjson.loads(await ws.recv())  # hello
            for n, url in enumerate((a, b, b, a, b)):
                async with httpx.AsyncClient(base_url=f"http://{url}") as reader:
                    voted = await reader.post(
                        f"/api/blogs/multi/entries/{entry_id}/votes", json={"option": n % 2}
                    )
                    assert voted.status_code == 201
            # B's reader is told the count of every instance's votes (one notice per change).
            want = {"results": [3, 2], "total": 5, "closed": False}
            while True:
                notice = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if notice["type"] == "poll.results" and notice["polls"][str(entry_id)] == want:
                    break
        for url in (a, b):
            async with httpx.AsyncClient(base_url=f"http://{url}") as reader:
                polls = (await reader.get("/api/blogs/multi/polls")).json()["polls"]
                assert polls == {str(entry_id): want}


async def offsets_of(url: str, slug: str, last: int, ready: asyncio.Event) -> list[int]:
    offsets: list[int] = []
    async with connect(f"ws://{url}/ws/blogs/{slug}") as ws:
        assert orjson.loads(await ws.recv())["type"] == "hello"
        ready.set()
        while not offsets or offsets[-1] < last:
            offsets.append(orjson.loads(await asyncio.wait_for(ws.recv(), 20))["offset"])
    return offsets


def doorbells(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("liveupdates_broker_messages_total "):
            return float(line.split()[1])
    raise AssertionError("no liveupdates_broker_messages_total")


async def test_an_instance_hears_the_doorbells_of_the_blogs_read_there_alone(
    instances: list[str], tokens: Tokens
) -> None:
    """Eight blogs, four read on each instance, posts to all of them through both: every
    reader gets its blog's every event, and instance A hears from the broker only what B
    posted to A's four blogs."""
    a, b = instances
    slugs = [f"blog-{n}" for n in range(8)]
    each = 3  # posts to each blog through each instance
    async with (
        httpx.AsyncClient(base_url=f"http://{a}", timeout=30) as api_a,
        httpx.AsyncClient(base_url=f"http://{b}", timeout=30) as api_b,
    ):
        for slug in slugs:
            made = await api_a.post(
                "/api/blogs", json={"slug": slug, "title": slug}, headers=tokens.auth("admin")
            )
            assert made.status_code == 201
        before = doorbells((await api_a.get("/metrics")).text)
        readers = []
        for n, slug in enumerate(slugs):
            ready = asyncio.Event()
            url = a if n < 4 else b
            readers.append(asyncio.create_task(offsets_of(url, slug, 2 * each, ready)))
            await asyncio.wait_for(ready.wait(), 10)
        for round_ in range(each):
            for slug in slugs:
                for api in (api_a, api_b):
                    r = await api.post(
                        f"/api/blogs/{slug}/entries",
                        json={"body": f"{slug} {round_}"},
                        headers=tokens.auth("editor"),
                    )
                    assert r.status_code == 201, r.text
        results = await asyncio.wait_for(asyncio.gather(*readers), 60)
        assert all(offsets == list(range(1, 2 * each + 1)) for offsets in results)
        heard = doorbells((await api_a.get("/metrics")).text) - before
    assert heard == 4 * each  # B's posts to A's blogs; nothing of the other four
