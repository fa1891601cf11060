"""Write path: entries per second through the REST API, with N readers connected.

    .venv/bin/python -m bench.writes                      # SQLite and Postgres, 10,000 readers
    .venv/bin/python -m bench.writes --databases sqlite --readers 0

Each post goes through `POST /api/blogs/{slug}/entries` with a token: validated, rendered,
stored with its event in one transaction, then pushed to every reader.
"""

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from bench.fanout import BODY, free_port, wait_http
from bench.wsclient import run_swarm

BIN = Path(sys.executable).parent
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_DB = "liveupdates_bench"


async def fresh_postgres() -> str:
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{POSTGRES_DB}"


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
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-writes-{database}-"))
    url = (
        f"sqlite+aiosqlite:///{workdir}/writes.db"
        if database == "sqlite"
        else asyncio.run(fresh_postgres())
    )
    env = {**os.environ, "DATABASE_URL": url, "BROKER_URL": "memory://"}
    subprocess.run([BIN / "liveupdates", "migrate"], env=env, cwd=workdir, check=True)
    made = subprocess.run(
        [BIN / "liveupdates", "token", "create", "--name", "Desk", "--role", "admin"],
        env=env, cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [BIN / "liveupdates", "serve", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=workdir,
    )  # fmt: skip
    swarms = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/blogs")
        httpx.post(
            f"{base}/api/blogs", json={"slug": "bench", "title": "Bench"},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()  # fmt: skip
        ctx = mp.get_context("spawn")
        for i in range(clients if readers else 0):
            commands, results = ctx.Queue(), ctx.Queue()
            process = ctx.Process(
                target=run_swarm,
                args=("127.0.0.1", port, "/ws/blogs/bench", readers // clients,
                      f"127.0.0.{i + 2}", commands, results),
                daemon=True,
            )  # fmt: skip
            process.start()
            swarms.append((process, commands, results))
        for _, _, results in swarms:
            results.get(timeout=600)
        return asyncio.run(post_many(base, token, total, concurrency))
    finally:
        for _, commands, _ in swarms:
            commands.put(("close",))
        for process, _, _ in swarms:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


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
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("| database | readers | reporters | entries / s |\n|---|---:|---:|---:|")
    for database in args.databases.split(","):
        rate = run(database, args.readers, args.posts, args.concurrency, args.clients)
        print(f"| {database} | {args.readers:,} | {args.concurrency} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
