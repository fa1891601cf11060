"""Slow readers: a tenth of the readers stop reading; the others must not notice.

    .venv/bin/python -m bench.slowreaders                # 2,000 readers, 200 stalled
    .venv/bin/python -m bench.slowreaders --readers 500 --posts 60

Every reader resumes with `since=` when it is disconnected and keeps every offset it saw.
1. Baseline: entries (~4 KB frames) are posted at a steady rate; the time from each post
   to its arrival is measured at every reader that will never stall.
2. Every tenth reader stops reading from its socket; the same posts again, measured at the
   same readers. The server must drop the stalled ones (close 4008, cut after a grace) once
   their unsent bytes pass READER_BUFFER_BYTES, without the others waiting for them.
3. The stalled readers read again: they reconnect, resume and must end with every offset
   exactly once, in order, like everyone else.
"""

import argparse
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from bench.harness import Ours, Swarms, raise_file_limit
from bench.resuming import run_resuming_swarm

BLOG = "/api/blogs/slow/entries"


def post_steadily(
    api: httpx.Client, first_offset: int, posts: int, rate: float, body: str
) -> dict[int, float]:
    """Post `posts` entries at `rate` per second; the time each was sent, by offset."""
    sent: dict[int, float] = {}
    start = time.monotonic()
    for n in range(posts):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[first_offset + n] = time.time()
        api.post(BLOG, json={"body": f"{n} {body}"}).raise_for_status()
    return sent


def latencies(swarms: Swarms, sent: dict[int, float]) -> list[float]:
    first, last = min(sent), max(sent)
    answers = swarms.ask("arrivals", first, last)
    return [at - sent[offset] for answer in answers for offset, at in answer[1]]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else 0.0


@dataclass
class Outcome:
    readers: int
    stalled: int
    baseline_p99: float
    stalled_p99: float
    reconnects: int
    close_codes: dict[int, int]
    caught_up: int
    missing: int
    duplicated: int
    disordered: int


def run(
    readers: int = 2000, stall_every: int = 10, posts: int = 150, rate: float = 10, clients: int = 4
) -> Outcome:
    body = "A paragraph of a live entry, long enough to weigh. " * 40  # ~2 KB of Markdown
    ours = Ours("slow")
    swarms: Swarms | None = None
    try:
        port, _ = ours.serve()
        api = ours.client(port)
        api.post("/api/blogs", json={"slug": "slow", "title": "Slow readers"}).raise_for_status()
        swarms = Swarms(
            run_resuming_swarm, port, "/ws/blogs/slow", readers, clients, extra=(stall_every,)
        )
        shares = (readers // clients + (i < readers % clients) for i in range(clients))
        stalled = sum(len(range(0, share, stall_every)) for share in shares)
        print(f"{swarms.connected} readers connected; {stalled} will stall")

        def phase(name: str, first_offset: int) -> list[float]:
            assert swarms is not None
            sent = post_steadily(api, first_offset, posts, rate, body)
            time.sleep(2)
            lat = latencies(swarms, sent)
            expected = (swarms.connected - stalled) * posts
            p50, p99 = (percentile(lat, q) * 1000 for q in (50, 99))
            print(
                f"{name:<28} {len(lat):>8,} of {expected:,} deliveries   "
                f"p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
            )
            return lat

        baseline = phase("all reading", 1)
        swarms.ask("stall")
        with_stalled = phase(f"{stalled} not reading", 1 + posts)
        swarms.ask("unstall")
        last = 2 * posts
        caught_up = sum(a[2] for a in swarms.ask("wait", last, 120, timeout=180))
        reports = swarms.ask("report", last)
        closes = swarms.ask("closes")
        return Outcome(
            readers=swarms.connected,
            stalled=stalled,
            baseline_p99=percentile(baseline, 99),
            stalled_p99=percentile(with_stalled, 99),
            reconnects=sum(answer[2] for answer in closes),
            close_codes=dict(Counter(code for answer in closes for code in answer[1])),
            caught_up=caught_up,
            missing=sum(r[1] for r in reports),
            duplicated=sum(r[2] for r in reports),
            disordered=sum(r[3] for r in reports),
        )
    finally:
        if swarms is not None:
            swarms.close()
        ours.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--stall-every", type=int, default=10)
    parser.add_argument("--posts", type=int, default=150, help="per phase")
    parser.add_argument("--rate", type=float, default=10, help="posts per second")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    raise_file_limit()
    out = run(args.readers, args.stall_every, args.posts, args.rate, args.clients)
    change = (out.stalled_p99 / out.baseline_p99 - 1) * 100
    print(f"p99 change with {out.stalled} stalled: {change:+.1f} %  (target < +20 %)")
    print(f"stalled readers reconnected:  {out.reconnects} times; close frames read: "
          f"{out.close_codes or 'none (cut after the grace)'}")  # fmt: skip
    print(f"readers with every offset:    {out.caught_up} of {out.readers}")
    print(f"missing events:               {out.missing}  (must be 0)")
    print(f"duplicated events:            {out.duplicated}  (must be 0)")
    print(f"readers out of order:         {out.disordered}  (must be 0)")


if __name__ == "__main__":
    main()
