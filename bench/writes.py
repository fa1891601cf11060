"""Write path: entries per second through the REST API, with N readers connected.

    .venv/bin/python -m bench.writes                      # SQLite and Postgres, 10,000 readers
    .venv/bin/python -m bench.writes --databases sqlite --readers 0

Each post goes through `POST /api/blogs/{slug}/entries` with a token: validated, rendered,
stored with its event in one transaction, then pushed to every reader.
"""

import argparse
import asyncio
import time

import httpx

from bench.fanout import BODY
from bench.harness import Ours, Swarms, fresh_postgres, raise_file_limit
from bench.wsclient import run_swarm

POSTGRES_DB = "liveupdates_bench"


async def post_many(base: str, token: str, total: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as c:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(total):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                r = await c.post(
                    "/api/blogs/bench/entries", json={"headline": f"Update {n}", "body": BODY}
                )
                r.raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.monotonic() - started)


def run(database: str, readers: int, total: int, concurrency: int, clients: int) -> float:
    url = asyncio.run(fresh_postgres(POSTGRES_DB)) if database == "postgres" else None
    ours = Ours(f"writes-{database}", database_url=url)
    swarms: Swarms | None = None
    try:
        port, _ = ours.serve()
        with ours.client(port) as api:
            api.post("/api/blogs", json={"slug": "bench", "title": "Bench"}).raise_for_status()
        if readers:
            swarms = Swarms(run_swarm, port, "/ws/blogs/bench", readers, clients)
        return asyncio.run(post_many(f"http://127.0.0.1:{port}", ours.token, total, concurrency))
    finally:
        if swarms is not None:
            swarms.close()
        ours.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10, help="reporters posting at once")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    raise_file_limit()
    print("| database | readers | reporters | entries / s |\n|---|---:|---:|---:|")
    for database in args.databases.split(","):
        rate = run(database, args.readers, args.posts, args.concurrency, args.clients)
        print(f"| {database} | {args.readers:,} | {args.concurrency} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
