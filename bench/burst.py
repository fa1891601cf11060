"""A burst of posts to many readers: do k queued events cost a reader one write?

    .venv/bin/python -m bench.burst --baseline 5a68389          # 20 posts in 100 ms, 5,000 readers
    .venv/bin/python -m bench.burst --readers 10000 --posts 40 --within 0.2 --baseline 5a68389

Posts are sent from threads, one every `within / posts` seconds, through the real REST API
while 5,000 WebSocket readers (several client processes) read the blog. Targets `ours`
and `base` (another commit) take the posts and the readers in one process; `ours_pair` and
`base_pair` are two instances on Redis, as behind a load balancer: the posts go to one, the
readers read the other (measured), which hears of each post from the broker. For each target it
prints the server's CPU and write() calls per delivery (`syscw` of /proc/PID/io: uvloop
sends with write and writev), how long the last reader took to have every post, and the
wire bytes per delivery. Targets alternate over rounds; the table is of medians.
"""

import argparse
import statistics
import threading
import time
from dataclasses import dataclass

from bench import fanout
from bench.harness import Ours, Swarms, checkout, raise_file_limit
from bench.wsclient import run_swarm


@dataclass
class Burst:
    name: str
    cpu_per_delivery_us: float
    writes_per_delivery: float
    last_reader_ms: float  # from the first post to the last reader having every post
    missing: int
    wire_bytes_per_delivery: float


def start_pair(base: bool = False) -> fanout.Target:
    source = fanout.BASELINE if base else None
    ours = Ours("burst", broker_url="redis://127.0.0.1:6379/0", source=source)
    port, process = ours.serve()
    posting_port, _ = ours.serve()
    client = ours.client(posting_port)
    client.post("/api/blogs", json={"slug": "bench", "title": "Bench"}).raise_for_status()

    def post(n: int) -> None:
        body = {"headline": f"Update {n}", "body": fanout.BODY}
        client.post("/api/blogs/bench/entries", json=body).raise_for_status()

    name = "base_pair" if base else "ours_pair"
    return fanout.Target(name, process, port, "/ws/blogs/bench", post, ours.close)


STARTERS = {**fanout.STARTERS, "ours_pair": start_pair, "base_pair": lambda: start_pair(True)}


def run_burst(name: str, readers: int, posts: int, within: float, clients: int) -> Burst:
    target = STARTERS[name]()
    swarms: Swarms | None = None
    try:
        time.sleep(1)
        swarms = Swarms(
            run_swarm, target.port, target.ws_path, readers, clients, extra=(target.mode,)
        )
        time.sleep(2)
        target.post(0)  # a first post, so that nothing is cold
        swarms.ask("wait", 1, 60)
        writes_start = fanout.write_syscalls(target.pid)
        cpu_start = fanout.cpu_seconds(target.pid)
        started = time.time()
        threads = []
        for n in range(posts):
            thread = threading.Thread(target=target.post, args=(n + 1,))
            threads.append(thread)
            thread.start()
            time.sleep(within / posts)
        for thread in threads:
            thread.join()
        swarms.ask("wait", posts + 1, 120)
        cpu = fanout.cpu_seconds(target.pid) - cpu_start
        writes = fanout.write_syscalls(target.pid) - writes_start
        arrivals: dict[int, list[float]] = {}
        wire = 0
        for _, got, _, _, received in swarms.ask("report"):
            wire += received
            for offset, times in got.items():
                arrivals.setdefault(offset, []).extend(times)
        offsets = range(2, posts + 2)
        missing = sum(readers - len(arrivals.get(offset, ())) for offset in offsets)
        last = max(max(arrivals.get(offset, [started])) for offset in offsets)
        deliveries = posts * readers - missing
        return Burst(
            name=target.name,
            cpu_per_delivery_us=cpu / max(deliveries, 1) * 1e6,
            writes_per_delivery=writes / max(deliveries, 1),
            last_reader_ms=(last - started) * 1000,
            missing=missing,
            wire_bytes_per_delivery=wire / max(deliveries + readers, 1),
        )
    finally:
        if swarms is not None:
            swarms.close()
        target.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--within", type=float, default=0.1, help="seconds the burst takes")
    parser.add_argument("--targets", default="ours,base,ours_pair,base_pair")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--baseline", help="a commit to run as the 'base' targets")
    parser.add_argument("--entry", choices=("short", "real"), default="real")
    args = parser.parse_args()
    fanout.BODY = fanout.REAL_BODY if args.entry == "real" else fanout.SHORT_BODY
    if args.baseline:
        fanout.BASELINE = checkout(args.baseline)
    raise_file_limit()
    names = args.targets.split(",")
    runs: dict[str, list[Burst]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names:
            burst = run_burst(name, args.readers, args.posts, args.within, args.clients)
            runs[name].append(burst)
            print(f"[round {round_ + 1}] {burst}")
    print(
        f"\n{args.readers} readers, {args.posts} posts in {args.within * 1000:.0f} ms, "
        f"medians of {args.rounds} round(s):\n"
    )
    print(
        "| target | CPU µs / delivery | writes / delivery | last reader has all, ms "
        "| wire bytes / delivery | missing |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for bursts in runs.values():
        print(
            f"| {bursts[0].name} "
            f"| {statistics.median(b.cpu_per_delivery_us for b in bursts):.1f} "
            f"| {statistics.median(b.writes_per_delivery for b in bursts):.2f} "
            f"| {statistics.median(b.last_reader_ms for b in bursts):.0f} "
            f"| {statistics.median(b.wire_bytes_per_delivery for b in bursts):,.0f} "
            f"| {max(b.missing for b in bursts)} |"
        )


if __name__ == "__main__":
    main()
