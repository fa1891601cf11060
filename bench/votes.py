"""What a surge of votes costs entries: readers of one blog whose latest entry carries a
poll; entries posted at a steady pace for a window, first alone, then while voters (in
processes of their own, each vote a new reader) cast `--votes` votes over the same window,
then alone again, `--rounds` times. Prints p50 and p99 from each post to its last reader in
each phase, the votes counted, and the surges' p99 against the phases alone, each pooled
over the run (a p99 of one phase's 240 posts is its third slowest: one stall moves it).
The issue's target: 10,000 votes in a minute leave p99 within 10 %. Nothing here is a test.

    .venv/bin/python -m bench.votes [--readers 2000] [--votes 10000] [--window 60]
                                    [--rounds 2]
"""

import argparse
import asyncio
import multiprocessing as mp
import secrets
import statistics
import time
from typing import Any

import h11
import httpx

from bench.fanout import cpu_seconds
from bench.harness import Ours, Swarms, raise_file_limit, swarm_process
from bench.wsclient import run_swarm


def vote_process(
    port: int, entry_id: int, count: int, window: float, start: float, out: Any
) -> None:
    """Cast `count` votes, evenly over `window` seconds from `start`, each a new reader, on
    a few kept-alive connections (h11: a light client, so that the load on the box is the
    server's, not the voters')."""
    swarm_process()
    path = f"/api/blogs/surge/entries/{entry_id}/votes".encode()

    async def connection(share: range) -> tuple[dict[int, int], list[float]]:
        codes: dict[int, int] = {}
        took: list[float] = []
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        http = h11.Connection(h11.CLIENT)
        for n in share:
            await asyncio.sleep(max(0.0, start + n * window / count - time.time()))
            body = b'{"option":%d}' % (n % 3)
            cookie = b"lu_voter=" + secrets.token_urlsafe(18).encode()
            headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
                       (b"content-length", b"%d" % len(body)), (b"cookie", cookie)]  # fmt: skip
            began = time.monotonic()
            writer.write(http.send(h11.Request(method=b"POST", target=path, headers=headers)))
            writer.write(http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
            code = 0
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    http.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Response):
                    code = event.status_code
                elif isinstance(event, h11.EndOfMessage):
                    break
            took.append(time.monotonic() - began)
            codes[code] = codes.get(code, 0) + 1
            http.start_next_cycle()
        writer.close()
        return codes, took

    async def run() -> tuple[dict[int, int], list[float]]:
        lanes = 128  # each lane votes less often than a vote takes: no bursts of our own
        done = await asyncio.gather(*(connection(range(i, count, lanes)) for i in range(lanes)))
        codes: dict[int, int] = {}
        for got, _ in done:
            for code, k in got.items():
                codes[code] = codes.get(code, 0) + k
        return codes, [t for _, times in done for t in times]

    out.put(asyncio.run(run()))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def phase(
    name: str,
    client: httpx.Client,
    swarms: Swarms,
    port: int,
    entry_id: int,
    votes: int,
    window: float,
    pace: float,
    voters: int,
) -> tuple[list[float], dict[int, int], list[float]]:
    """Post an entry every `1 / pace` s for `window` s (while `votes` are cast): the
    latency of each to its last reader, in ms, and how the votes were answered."""
    offset = client.get("/api/blogs/surge").json()["offset"]
    start = time.time() + 2
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    shares = [votes // voters + (i < votes % voters) for i in range(voters)] if votes else []
    processes = [
        ctx.Process(target=vote_process, args=(port, entry_id, share, window, start, out))
        for share in shares
    ]
    for process in processes:
        process.start()
    sent_at: dict[int, float] = {}
    posts = int(window * pace)
    for n in range(1, posts + 1):
        time.sleep(max(0.0, start + (n - 1) / pace - time.time()))
        sent_at[offset + n] = time.time()
        client.post("/api/blogs/surge/entries", json={"body": f"{name} {n}"}).raise_for_status()
    swarms.ask("wait", offset + posts, 120)
    codes: dict[int, int] = {}
    took: list[float] = []
    for _ in processes:
        got, times = out.get(timeout=window + 300)
        for code, k in got.items():
            codes[code] = codes.get(code, 0) + k
        took.extend(times)
    for process in processes:
        process.join(timeout=10)
    arrivals: dict[int, list[float]] = {}
    for _, got, _, _, _ in swarms.ask("report"):
        for at, times in got.items():
            arrivals.setdefault(at, []).extend(times)
    last = [(max(arrivals[o]) - sent_at[o]) * 1000 for o in sent_at if arrivals.get(o)]
    # Where the slowest lost their time: before the first reader got it (the post's own
    # path: the database, a pause of the process) or in the delivery to the rest.
    slowest = sorted(
        (o for o in sent_at if arrivals.get(o)), key=lambda o: max(arrivals[o]) - sent_at[o]
    )[-5:]
    spans = ", ".join(
        f"{(min(arrivals[o]) - sent_at[o]) * 1000:.0f}→{(max(arrivals[o]) - sent_at[o]) * 1000:.0f}"
        for o in slowest
    )
    print(f"{'':>14}slowest, first→last reader (ms): {spans}", flush=True)
    return last, codes, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--votes", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--pace", type=float, default=4.0, help="posts per second")
    parser.add_argument("--voters", type=int, default=2, help="voting processes")
    parser.add_argument("--database-url", default=None, help="Postgres, say (default SQLite)")
    parser.add_argument("--results-seconds", default="2", help="POLL_RESULTS_SECONDS")
    parser.add_argument(
        "--rounds", type=int, default=2, help="surges, each between two phases alone"
    )
    args = parser.parse_args()
    raise_file_limit()
    ours = Ours(
        "votes",
        database_url=args.database_url,
        votes_per_address_per_hour="0",
        poll_results_seconds=args.results_seconds,
    )
    port, server = ours.serve()
    client = ours.client(port)
    swarms: Swarms | None = None
    try:
        client.post("/api/blogs", json={"slug": "surge", "title": "Surge"}).raise_for_status()
        poll = {"options": ["Yes", "No", "Not yet"]}
        made = client.post("/api/blogs/surge/entries", json={"body": "Poll", "poll": poll})
        entry_id = made.json()["id"]
        swarms = Swarms(run_swarm, port, "/ws/blogs/surge", args.readers, 2)
        print(f"{swarms.connected:,} readers; {args.votes:,} votes over {args.window:.0f} s; "
              f"{args.pace:g} posts a second", flush=True)  # fmt: skip
        pooled: dict[str, list[float]] = {"alone": [], "surge": []}
        phases = [("alone", 0)] + [("surge", args.votes), ("alone", 0)] * args.rounds
        for name, votes in phases:
            cpu = cpu_seconds(server.pid)
            last, codes, took = phase(
                name, client, swarms, port, entry_id, votes, args.window, args.pace, args.voters
            )
            cpu = cpu_seconds(server.pid) - cpu
            pooled[name] += last
            vote_p99 = percentile(took, 0.99) * 1000 if took else 0.0
            print(
                f"{name:>12}: last reader p50 {statistics.median(last):.1f} ms, "
                f"p99 {percentile(last, 0.99):.1f} ms; server CPU {cpu:.1f} s; "
                f"votes {codes or '-'}, vote p99 {vote_p99:.0f} ms",
                flush=True,
            )
        counted = client.get("/api/blogs/surge/polls").json()["polls"][str(entry_id)]["total"]
        alone, surge = pooled["alone"], pooled["surge"]
        print(f"\nvotes counted {counted:,} of {args.votes * args.rounds:,}")
        print(f"pooled: alone p50 {statistics.median(alone):.1f} ms, p99 "
              f"{percentile(alone, 0.99):.1f} ms ({len(alone)} posts); surge p50 "
              f"{statistics.median(surge):.1f} ms, p99 {percentile(surge, 0.99):.1f} ms "
              f"({len(surge)} posts)")  # fmt: skip
        print(f"surge p99 / alone p99 = {percentile(surge, 0.99) / percentile(alone, 0.99):.2f}")
    finally:
        if swarms is not None:
            swarms.close()
        client.close()
        ours.close()


if __name__ == "__main__":
    main()
