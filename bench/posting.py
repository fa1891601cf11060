"""A post's own CPU on SQLite, and the round trips to aiosqlite's thread it makes.

    .venv/bin/python -m bench.posting
    .venv/bin/python -m bench.posting --posts 500

aiosqlite runs each call (a cursor made, a statement run, rows fetched, a cursor closed, a
commit, a rollback) on its own thread and wakes the event loop with the answer: a round
trip between two threads per call. Printed: the server's CPU per post (`liveupdates
serve`, the fan-out bench's real entry, no readers; the process's CPU clock), and the
round trips a post makes, counted in-process on the same app, by kind (bench/README.md,
"Twelfth session", says what they cost).
"""

import argparse
import asyncio
import collections
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import httpx

from bench.fanout import REAL_BODY, cpu_seconds
from bench.harness import Ours

if TYPE_CHECKING:
    from app.config import Settings

WARM = 20


def entry(n: int) -> dict[str, str]:
    return {"headline": f"Update {n}", "body": REAL_BODY}


def server_cpu_per_post(posts: int) -> float:
    ours = Ours("posting")
    try:
        port, process = ours.serve()
        client = ours.client(port)
        client.post("/api/blogs", json={"slug": "bench", "title": "Bench"}).raise_for_status()
        for n in range(WARM):
            client.post("/api/blogs/bench/entries", json=entry(n)).raise_for_status()
        before = cpu_seconds(process.pid)
        for n in range(posts):
            client.post("/api/blogs/bench/entries", json=entry(WARM + n)).raise_for_status()
        return (cpu_seconds(process.pid) - before) / posts
    finally:
        ours.close()


def sqlite_settings() -> "Settings":
    from app.cli import migrate
    from app.config import Settings

    where = Path(tempfile.mkdtemp(prefix="bench-posting-"))
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{where}/bench.db",
        broker_url="memory://",
        media_dir=where,
        post_rate_per_minute=0,
    )
    migrate.upgrade(settings)  # before the loop: Alembic runs one of its own
    return settings


async def round_trips_per_post(settings: "Settings", posts: int) -> collections.Counter[str]:
    """The app in this process, its aiosqlite calls counted by the function each runs."""
    from app.main import create_app
    from app.services import services
    from app.store import auth

    counted: collections.Counter[str] = collections.Counter()
    execute = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted[getattr(fn, "__name__", repr(fn))] += 1
        return await execute(self, fn, *args, **kwargs)

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with services(app).db.write() as session:
            _, token = await auth.create_token(session, "Bench", "admin")
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            made = await client.post("/api/blogs", json={"slug": "bench", "title": "Bench"})
            made.raise_for_status()
            for n in range(WARM):
                (await client.post("/api/blogs/bench/entries", json=entry(n))).raise_for_status()
            aiosqlite.Connection._execute = counting  # type: ignore[method-assign]
            try:
                for n in range(posts):
                    posted = await client.post("/api/blogs/bench/entries", json=entry(WARM + n))
                    posted.raise_for_status()
            finally:
                aiosqlite.Connection._execute = execute  # type: ignore[method-assign]
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=300)
    args = parser.parse_args()

    post = server_cpu_per_post(args.posts)
    print(f"server CPU per post (SQLite, real entry, {args.posts} posts): {post * 1000:.2f} ms")
    counted = asyncio.run(round_trips_per_post(sqlite_settings(), args.posts))
    trips = sum(counted.values()) / args.posts
    kinds = ", ".join(f"{name} {count / args.posts:.2f}" for name, count in counted.most_common())
    print(f"aiosqlite round trips per post: {trips:.1f} ({kinds})")


if __name__ == "__main__":
    main()
