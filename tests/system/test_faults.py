"""Faults injected into real processes: nothing acknowledged is ever lost or doubled.

The short versions run in `make test`; `SOAK=1` (make soak) runs them at full size.
"""

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.config import Settings
from app.domain.models import Role
from app.store.auth import create_token
from app.store.db import Database
from bench import slowreaders
from tests.conftest import StartServer, Tokens
from tests.servers import AppServer, PrivatePostgres

SOAK = bool(os.environ.get("SOAK"))
POSTS_PER_REPORTER = 100 if SOAK else 20
REPORTERS = 10


class Follower:
    """A reader that reconnects with `since=` its last offset until told to stop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.offsets: list[int] = []
        self.created: list[int] = []
        self.done = asyncio.Event()

    async def run(self) -> None:
        delay = 0.05
        while not self.done.is_set():
            since = self.offsets[-1] if self.offsets else 0
            try:
                async with connect(f"{self.url}/ws/blogs/crash?since={since}") as ws:
                    delay = 0.05
                    async for message in ws:
                        event = orjson.loads(message)
                        if event["type"] == "hello":
                            continue
                        self.offsets.append(event["offset"])
                        if event["type"] == "entry.created":
                            self.created.append(event["entry"]["id"])
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


@pytest.fixture
async def reporters(settings: Settings, clean_db: None) -> list[str]:
    db = Database(settings)
    try:
        async with db.write() as session:
            tokens = [
                (await create_token(session, f"Reporter {n}", Role.reporter))[1]
                for n in range(REPORTERS)
            ]
            _, admin = await create_token(session, "Desk", Role.admin)
    finally:
        await db.dispose()
    return [admin, *tokens]


async def test_sigkill_mid_burst_loses_and_doubles_nothing(
    settings: Settings, reporters: list[str], tmp_path: Path
) -> None:
    admin, *tokens = reporters
    server = AppServer(settings, tmp_path)
    await server.start()
    ws_url = server.url.replace("http", "ws")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            await create_blog(client, admin)
            followers = [Follower(ws_url) for _ in range(3)]
            following = [asyncio.create_task(f.run()) for f in followers]

            acked: dict[str, int] = {}  # Idempotency-Key -> entry id, for every 2xx
            unanswered: list[tuple[str, str]] = []  # (token, key) that got no answer
            total = REPORTERS * POSTS_PER_REPORTER
            killed = asyncio.Event()

            async def report(token: str, n: int) -> None:
                for i in range(POSTS_PER_REPORTER):
                    key = f"r{n}-{i}"
                    try:
                        r = await client.post(
                            "/api/blogs/crash/entries", json={"body": f"Post {key}"},
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                        )  # fmt: skip
                        if r.status_code == 201:
                            acked[key] = r.json()["id"]
                            continue
                    except httpx.TransportError:
                        pass
                    unanswered.append((token, key))

            async def kill_midway() -> None:
                while len(acked) < total * 0.4:
                    await asyncio.sleep(0.005)
                server.kill()
                killed.set()

            killer = asyncio.create_task(kill_midway())
            await asyncio.gather(*(report(token, n) for n, token in enumerate(tokens)))
            await killer
            assert killed.is_set() and unanswered, "the crash came too late to matter"
            acked_before_crash = dict(acked)

            await server.start()
            # Every acknowledged post survived the crash.
            entries = await all_entries(client)
            assert set(acked_before_crash.values()) <= {e["id"] for e in entries}
            # Reporters retry what got no answer, with the same keys: nothing is doubled.
            for token, key in unanswered:
                r = await client.post(
                    "/api/blogs/crash/entries", json={"body": f"Post {key}"},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                )  # fmt: skip
                assert r.status_code == 201
                acked[key] = r.json()["id"]
            entries = await all_entries(client)
            bodies = [e["body"] for e in entries]
            assert len(bodies) == len(set(bodies)) == total
            assert {e["id"] for e in entries} == set(acked.values())

            # Readers connected before the crash end with every entry once, in offset order.
            latest = (await client.get("/api/blogs/crash")).json()["offset"]
            for _ in range(300):
                if all(f.offsets and f.offsets[-1] >= latest for f in followers):
                    break
                await asyncio.sleep(0.05)
            for follower in followers:
                follower.done.set()
                assert follower.offsets == list(range(1, latest + 1))
                assert sorted(follower.created) == sorted(acked.values())
            print(
                f"\n{settings.database_url.split(':')[0]}: {total} posts, "
                f"{len(acked_before_crash)} acknowledged before SIGKILL, all stored; "
                f"{len(unanswered)} unanswered, retried with their keys; {len(entries)} stored "
                f"in all; {len(followers)} readers saw offsets 1..{latest} once each"
            )
            for task in following:
                task.cancel()
            await asyncio.gather(*following, return_exceptions=True)
    finally:
        server.stop()


async def create_blog(client: httpx.AsyncClient, admin: str) -> None:
    r = await client.post(
        "/api/blogs", json={"slug": "crash", "title": "Crash"},
        headers={"Authorization": f"Bearer {admin}"},
    )  # fmt: skip
    assert r.status_code == 201


async def all_entries(client: httpx.AsyncClient) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 100}
        if cursor:
            params["before"] = cursor
        page = (await client.get("/api/blogs/crash/entries", params=params)).json()
        entries += page["entries"]
        cursor = page["next"]
        if cursor is None:
            return entries


async def test_database_loss_is_503_then_recovers(tmp_path: Path) -> None:
    """On a Postgres cluster of its own, stopped for a while and started again."""
    from app.cli import migrate

    pg = PrivatePostgres()
    pg.start()
    settings = Settings(database_url=pg.url)
    await asyncio.to_thread(migrate.upgrade, settings)
    db = Database(settings)
    async with db.write() as session:
        _, token = await create_token(session, "Desk", Role.admin)
    await db.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    server = AppServer(settings, tmp_path)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=15) as client:
            r = await client.post("/api/blogs", json={"slug": "crash", "title": "Down"})
            assert r.status_code == 201
            follower = Follower(server.url.replace("http", "ws"))
            following = asyncio.create_task(follower.run())
            assert (
                await client.post("/api/blogs/crash/entries", json={"body": "1"})
            ).status_code == 201

            pg.stop()
            for _ in range(3):
                r = await client.post("/api/blogs/crash/entries", json={"body": "lost?"})
                assert r.status_code == 503, r.text  # at once: not a 500, not a hang
                assert r.headers["retry-after"]
                assert "detail" in r.json()
            pages = await client.get("/blogs/crash")
            assert pages.status_code in (200, 503)  # served from cache, or a clean 503

            pg.start()
            for _ in range(50):  # the pool notices the database is back
                r = await client.post("/api/blogs/crash/entries", json={"body": "2"})
                if r.status_code == 201:
                    break
                await asyncio.sleep(0.2)
            assert r.status_code == 201
            bodies = [
                e["body"] for e in (await client.get("/api/blogs/crash/entries")).json()["entries"]
            ]
            assert bodies == ["2", "1"]  # nothing partial from the outage
            for _ in range(100):
                if follower.offsets[-2:] == [1, 2]:
                    break
                await asyncio.sleep(0.05)
            assert follower.offsets == [1, 2]  # the reader stayed, or came back, and saw both
            follower.done.set()
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    finally:
        server.stop()
        pg.stop()
        pg.remove()


async def test_sigterm_lets_posts_in_flight_finish(
    settings: Settings, reporters: list[str], tmp_path: Path
) -> None:
    admin, *tokens = reporters
    server = AppServer(settings, tmp_path)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            await create_blog(client, admin)
            statuses: list[int] = []
            acked: list[int] = []

            async def report(token: str) -> None:
                for n in range(30):
                    try:
                        r = await client.post(
                            "/api/blogs/crash/entries", json={"body": f"{token[-6:]} {n}"},
                            headers={"Authorization": f"Bearer {token}"},
                        )  # fmt: skip
                    except httpx.TransportError:
                        return  # the server has stopped taking requests
                    statuses.append(r.status_code)
                    if r.status_code == 201:
                        acked.append(r.json()["id"])

            posting = [asyncio.create_task(report(token)) for token in tokens]
            while len(acked) < 20:
                await asyncio.sleep(0.005)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            await asyncio.gather(*posting)
            # uvicorn drains, then exits by the signal it was sent.
            assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
            assert set(statuses) == {201}  # no request cut off with an error

            await server.start()
            stored = {e["id"] for e in await all_entries(client)}
            assert set(acked) == stored
    finally:
        server.stop()


def test_stalled_readers_are_cut_off_and_resume_without_a_gap() -> None:
    """Every tenth reader stops reading mid-stream (bench/slowreaders.py, at full size
    under SOAK): the server drops each once its backlog passes the bound, the others keep
    receiving, and the stalled ones, reading again, resume with nothing missing or doubled."""
    readers = 2000 if SOAK else 200
    outcome = slowreaders.run(readers=readers, posts=150, rate=10 if SOAK else 50, clients=4)
    assert outcome.readers == outcome.caught_up == readers
    assert outcome.stalled == readers // 10
    assert outcome.reconnects >= outcome.stalled
    assert (outcome.missing, outcome.duplicated, outcome.disordered) == (0, 0, 0)


async def test_a_writer_held_up_by_a_lock_gets_503_in_bounded_time(
    start_server: StartServer, tokens: Tokens, settings: Settings
) -> None:
    """Another client holds the blog's lock (SQLite's write lock; the row on Postgres):
    posts wait at most the statement bound, then get 503 with Retry-After and store
    nothing; once the lock is gone they succeed."""
    server = await start_server(db_statement_timeout_seconds=0.5)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        r = await client.post(
            "/api/blogs", json={"slug": "locked", "title": "Locked"}, headers=tokens.auth("admin")
        )
        assert r.status_code == 201
        url = make_url(settings.database_url)
        if settings.is_sqlite:
            assert url.database is not None
            holder = sqlite3.connect(url.database, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        else:
            pg = await asyncpg.connect(
                host=url.host, port=url.port, user=url.username, database=url.database
            )
            await pg.execute("BEGIN")
            await pg.execute("SELECT * FROM blog WHERE slug = 'locked' FOR UPDATE")
        try:
            started = time.monotonic()
            r = await client.post(
                "/api/blogs/locked/entries", json={"body": "waits"}, headers=tokens.auth("editor")
            )
            took = time.monotonic() - started
        finally:
            if settings.is_sqlite:
                holder.execute("ROLLBACK")
                holder.close()
            else:
                await pg.execute("ROLLBACK")
                await pg.close()
        assert r.status_code == 503 and "retry-after" in r.headers, r.text
        assert took < 2.0
        r = await client.post(
            "/api/blogs/locked/entries", json={"body": "goes"}, headers=tokens.auth("editor")
        )
        assert r.status_code == 201
        listed = (await client.get("/api/blogs/locked/entries")).json()["entries"]
        assert [e["body"] for e in listed] == ["goes"]  # the refused post left nothing
