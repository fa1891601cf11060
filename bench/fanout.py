"""Fan-out benchmark: N WebSocket readers on one blog, P posts, ours against the baseline.

    .venv/bin/python -m bench.fanout                  # 5,000 readers, 10 posts, ours and naive
    .venv/bin/python -m bench.fanout --readers 10000 --targets ours
    .venv/bin/python -m bench.fanout --targets ours,ours_deflate,ours_sse,base --entry real \
        --baseline 51d7434                       # A/B: compression, SSE, an older commit

Each server runs as one process. Readers are spread over several client processes, each
from its own 127.0.0.x source address. For each post it prints the time until the first,
median and last reader had it; then the server's CPU time per delivery (its CPU-time clock,
to the nanosecond), also with the posts' own cost aside, write() calls per delivery,
deliveries per second, memory per idle reader (RSS, and the kernel's: socket buffers and
slab), how long the readers took to connect, and the driver's own CPU; and finally the
ratios of ours to each peer read the same way (plain or permessage-deflate). Nothing here
is a test: it prints figures.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.harness import Ours, Swarms, checkout, free_port, raise_file_limit, wait_http
from bench.wsclient import run_swarm

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
SHORT_BODY = (
    "Polling stations across the region closed at 10pm. Turnout was higher than at any "
    "election since 1992, officials said, with long queues in the city centre."
)
# An entry like a real live blog's: a few hundred words, a list, a quote, an image.
REAL_BODY = """Polling stations across the region closed at 10pm after a day of long queues in \
the city centre and in the commuter towns to the north. Officials said turnout was higher \
than at any election since 1992, and counting is under way at the exhibition centre, where \
the first ballot boxes arrived by police escort a little after 10.40pm.

{IMAGE}

What we know so far:

- Turnout is estimated at 71 per cent across the region, up from 64 per cent last time.
- Three constituencies expect to declare before 1am; the rest through the night.
- A recount has already been requested in Harbourside, where the margin is said to be tight.
- Postal votes, a record 212,000 of them, were verified during the afternoon.

The returning officer, Margaret Olsen, told reporters at the count that staff were working \
as quickly as accuracy allowed:

> We will not rush this. Every ballot paper will be counted, and counted properly, and we \
> will declare each result when we are certain of it and not a minute before.

Party workers at the count were cautious. One campaign manager, who asked not to be named \
because results had not been declared, said early sampling of the boxes suggested a close \
night in the marginal seats along the coast, and a comfortable one elsewhere.

1. Harbourside: recount requested, result expected after 3am.
2. North Vale: first declaration expected around 12.45am.
3. Riverside East: counting slowed by a fire alarm, since resolved.

We will bring you every declaration as it happens, with reaction from the candidates and \
analysis from our political editor. Refresh is not needed: this page updates by itself.""".replace(
    "{IMAGE}",
    "![Counting staff empty the first ballot boxes at the exhibition centre]"
    "(https://images.example.org/2026/11/26/count-hall-1600.jpg "
    '"Counting begins at the exhibition centre | Ana Ruiz / Regional Press")',
)
BODY = SHORT_BODY


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a server with several workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def cpu_seconds(pid: int) -> float:
    """CPU time of the process tree, to the nanosecond: each process's CPU-time clock
    (Linux's clock id for another process's CPU clock, as clock_getcpuclockid gives; the
    ticks of /proc/PID/stat are 10 ms)."""
    total = 0
    for member in process_tree(pid):
        try:
            total += time.clock_gettime_ns(((~member) << 3) | 2)
        except OSError:
            continue
    return total / 1e9


def rss_bytes(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        try:
            total += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def kernel_memory() -> tuple[int, int]:
    """(bytes in TCP socket buffers, bytes of kernel slab), machine-wide: from
    /proc/net/sockstat (`mem`, in pages) and /proc/meminfo (`Slab`)."""
    tcp = 0
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            tcp = int(fields[fields.index("mem") + 1]) * PAGE
    slab = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            slab = int(line.split()[1]) * 1024
    return tcp, slab


def write_syscalls(pid: int) -> int:
    """write()/writev() calls made by the process tree so far (`syscw` of /proc/PID/io):
    how uvloop and libuv send on a TCP socket."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/io").read_text().splitlines():
                if line.startswith("syscw:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class Target:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    ws_path: str
    post: Any  # callable(n) -> None
    cleanup: Any  # stops the server
    mode: str = "ws"  # how its readers read: "ws", "deflate" or "sse"

    @property
    def pid(self) -> int:
        return self.process.pid


# Posts made before the readers come: ten to warm up, ten measured (a post's own cost).
WARM_POSTS = 10
BASELINE: Path | None = None  # a checkout of another commit, for the "base" targets


def start_ours(
    workers: int = 1, broker: str = "memory://", mode: str = "ws", source: Path | None = None
) -> Target:
    ours = Ours("fanout", broker_url=broker, source=source)
    port, process = ours.serve(workers=workers)
    client = ours.client(port)
    client.post("/api/blogs", json={"slug": "bench", "title": "Bench"}).raise_for_status()

    def post(n: int) -> None:
        r = client.post("/api/blogs/bench/entries", json={"headline": f"Update {n}", "body": BODY})
        r.raise_for_status()

    def cleanup() -> None:
        client.close()
        ours.close()

    name = "ours" if workers == 1 else f"ours_{workers}workers_redis"
    if mode != "ws":
        name += f"_{mode}"
    if source is not None:
        name = f"base_{name[5:] or 'ws'}" if mode != "ws" else "base"
    path = "/blogs/bench/events" if mode == "sse" else "/ws/blogs/bench"
    return Target(name, process, port, path, post, cleanup, mode)


def start_ours_scaled() -> Target:
    return start_ours(workers=2, broker="redis://127.0.0.1:6379/0")


def peer(
    name: str, command: list[str], ready: str, ws_path: str, post: Any, cwd: Path, mode: str
) -> Target:
    """A peer server: started with `command`, stopped with SIGTERM. Each peer negotiates
    permessage-deflate with readers that offer it (mode "deflate")."""
    port = free_port()
    process = subprocess.Popen([*command, str(port)], cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}{ready}")
    client = httpx.Client(base_url=base, timeout=60)

    def cleanup() -> None:
        client.close()
        Ours.stop(process)

    if mode != "ws":
        name += f"_{mode}"
    return Target(name, process, port, ws_path, lambda n: post(client, n), cleanup, mode)


def publish(client: httpx.Client, n: int) -> None:
    client.post("/publish", json={"headline": f"Update {n}", "body": BODY}).raise_for_status()


def start_naive(mode: str = "ws") -> Target:
    command = [sys.executable, "-m", "uvicorn", "bench.peers.naive_fastapi:app",
               "--log-level", "warning", "--port"]  # fmt: skip
    return peer("naive_fastapi", command, "/docs", "/ws", publish, ROOT, mode)


def start_floor(mode: str = "ws") -> Target:
    command = [sys.executable, "-m", "bench.peers.floor"]
    return peer("floor", command, "/", "/ws", publish, ROOT, mode)


def start_websockets(mode: str = "ws") -> Target:
    def post(client: httpx.Client, n: int) -> None:
        # websockets' server answers only GETs: the entry rides in headers.
        headers = {"X-Headline": f"Update {n}", "X-Body": quote(BODY)}  # one line
        r = client.get("/publish", headers=headers)
        r.raise_for_status()

    command = [sys.executable, "-m", "bench.peers.websockets_broadcast"]
    return peer("websockets_broadcast", command, "/", "/ws", post, ROOT, mode)


def start_node(mode: str = "ws") -> Target:
    here = ROOT / "bench" / "peers" / "node_ws"
    if not (here / "node_modules" / "ws").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=here, check=True
        )
    return peer("node_ws", ["node", "server.js"], "/", "/ws", publish, here, mode)


def start_base(mode: str = "ws") -> Target:
    assert BASELINE is not None, "--baseline REV names the commit to compare with"
    return start_ours(mode=mode, source=BASELINE)


STARTERS = {
    "ours": start_ours,
    "ours_deflate": lambda: start_ours(mode="deflate"),
    "ours_sse": lambda: start_ours(mode="sse"),
    "base": start_base,
    "base_sse": lambda: start_base("sse"),
    "ours2": start_ours_scaled,
    "naive": start_naive,
    "websockets": start_websockets,
    "node": start_node,
    "floor": start_floor,
    "naive_deflate": lambda: start_naive("deflate"),
    "websockets_deflate": lambda: start_websockets("deflate"),
    "node_deflate": lambda: start_node("deflate"),
    "floor_deflate": lambda: start_floor("deflate"),
}


@dataclass
class Result:
    name: str
    readers: int
    latencies: list[tuple[float, float, float]]  # per post: first, median, last (ms)
    cpu_per_delivery_us: float
    # The same with the posts' own cost (measured with no reader connected) taken out: the
    # delivery alone, as the floor does nothing else.
    net_cpu_per_delivery_us: float
    post_cpu_ms: float
    deliveries_per_s: float
    rss_per_reader_kb: float
    # Kernel memory per idle reader: TCP buffers, and slab (socket, file, epoll) halved,
    # since both ends of each connection are on this machine.
    socket_buffers_per_reader_kb: float
    slab_per_reader_kb: float
    writes_per_delivery: float
    driver_cpu_s: float
    connect_s: float  # from starting the client processes until every reader had its hello
    missing: int
    wire_bytes_per_delivery: float


def run_target(name: str, readers: int, posts: int, clients: int) -> Result:
    target = STARTERS[name]()
    swarms: Swarms | None = None
    try:
        time.sleep(1)
        for n in range(1, WARM_POSTS + 1):  # unread: what a post costs by itself
            target.post(n)
        cpu_start = cpu_seconds(target.pid)
        for n in range(WARM_POSTS + 1, 2 * WARM_POSTS + 1):
            target.post(n)
        post_cpu = (cpu_seconds(target.pid) - cpu_start) / WARM_POSTS
        first = 2 * WARM_POSTS + 1  # the offset of the first post read
        rss_before = rss_bytes(target.pid)
        buffers_before, slab_before = kernel_memory()
        connecting = time.monotonic()
        swarms = Swarms(
            run_swarm, target.port, target.ws_path, readers, clients, extra=(target.mode,)
        )
        connect = time.monotonic() - connecting
        time.sleep(2)  # let the server settle before measuring idle memory
        rss_idle = rss_bytes(target.pid)
        buffers_idle, slab_idle = kernel_memory()

        writes_start = write_syscalls(target.pid)
        cpu_start = cpu_seconds(target.pid)
        wall_start = time.monotonic()
        sent_at: dict[int, float] = {}
        for n in range(first, first + posts):
            sent_at[n] = time.time()
            target.post(n)
            swarms.ask("wait", n, 60)
        wall = time.monotonic() - wall_start
        cpu = cpu_seconds(target.pid) - cpu_start
        writes = write_syscalls(target.pid) - writes_start

        arrivals: dict[int, list[float]] = {}
        driver_cpu = 0.0
        wire = 0
        for _, got, used, _, received in swarms.ask("report"):
            driver_cpu += used
            wire += received
            for offset, times in got.items():
                arrivals.setdefault(offset, []).extend(times)
        latencies = []
        missing = 0
        for n in range(first, first + posts):
            times = sorted((t - sent_at[n]) * 1000 for t in arrivals.get(n, []))
            missing += readers - len(times)
            if times:
                latencies.append((times[0], statistics.median(times), times[-1]))
        deliveries = posts * readers - missing
        return Result(
            name=target.name,
            readers=readers,
            latencies=latencies,
            cpu_per_delivery_us=cpu / max(deliveries, 1) * 1e6,
            net_cpu_per_delivery_us=(cpu - posts * post_cpu) / max(deliveries, 1) * 1e6,
            post_cpu_ms=post_cpu * 1000,
            deliveries_per_s=deliveries / wall,
            rss_per_reader_kb=(rss_idle - rss_before) / readers / 1024,
            socket_buffers_per_reader_kb=(buffers_idle - buffers_before) / readers / 1024,
            slab_per_reader_kb=(slab_idle - slab_before) / 2 / readers / 1024,
            writes_per_delivery=writes / max(deliveries, 1),
            driver_cpu_s=driver_cpu,
            connect_s=connect,
            missing=missing,
            wire_bytes_per_delivery=wire / max(deliveries, 1),
        )
    finally:
        if swarms is not None:
            swarms.close()
        target.cleanup()


def show(result: Result) -> None:
    print(f"\n{result.name}: {result.readers} readers")
    print("  post  first ms  median ms  last ms")
    for n, (first, median, last) in enumerate(result.latencies, start=1):
        print(f"  {n:>4}  {first:>8.1f}  {median:>9.1f}  {last:>7.1f}")
    print(f"  CPU per delivery      {result.cpu_per_delivery_us:8.1f} µs")
    print(f"  ... posts' own aside  {result.net_cpu_per_delivery_us:8.1f} µs "
          f"({result.post_cpu_ms:.1f} ms a post)")  # fmt: skip
    print(f"  deliveries per second {result.deliveries_per_s:8.0f}")
    print(f"  RSS per idle reader   {result.rss_per_reader_kb:8.1f} KB")
    print(f"  kernel, idle reader   {result.socket_buffers_per_reader_kb:8.1f} KB buffers, "
          f"{result.slab_per_reader_kb:.1f} KB slab")  # fmt: skip
    print(f"  writes per delivery   {result.writes_per_delivery:8.2f}")
    print(f"  driver CPU            {result.driver_cpu_s:8.2f} s")
    print(f"  all readers connected {result.connect_s:8.2f} s")
    print(f"  missing deliveries    {result.missing:8d}")
    print(f"  wire bytes / delivery {result.wire_bytes_per_delivery:8.0f}  (hello included)")


def median_last(result: Result) -> float:
    return statistics.median(last for _, _, last in result.latencies)


def summary(results: list[Result]) -> dict[str, float]:
    """Medians over the rounds of one target."""
    return {
        "cpu": statistics.median(r.cpu_per_delivery_us for r in results),
        "net": statistics.median(r.net_cpu_per_delivery_us for r in results),
        "post": statistics.median(r.post_cpu_ms for r in results),
        "last": statistics.median(median_last(r) for r in results),
        "rss": statistics.median(r.rss_per_reader_kb for r in results),
        "buffers": statistics.median(r.socket_buffers_per_reader_kb for r in results),
        "slab": statistics.median(r.slab_per_reader_kb for r in results),
        "writes": statistics.median(r.writes_per_delivery for r in results),
        "rate": statistics.median(r.deliveries_per_s for r in results),
        "driver": statistics.median(r.driver_cpu_s for r in results),
        "connect": statistics.median(r.connect_s for r in results),
        "missing": max(r.missing for r in results),
        "wire": statistics.median(r.wire_bytes_per_delivery for r in results),
    }


TARGETS = {  # what each ratio is held to, from the issues
    "naive": {"cpu": 0.6, "last": 0.7, "rss": 0.6},
    "node": {"cpu": 0.7, "last": 0.8},
    "floor": {"cpu": 1.2, "net": 1.2},
    "websockets": {"rss": 1.0},
}


def ratios(table: dict[str, dict[str, float]], runs: dict[str, list[Result]]) -> list[str]:
    """Ours against each peer read the same way: `ours` / `floor`, `ours_deflate` /
    `floor_deflate`, and so on."""
    lines = [
        "\n| ratio, ours / peer | CPU per delivery | the same, posts' own cost aside "
        "| time to last reader | RSS per idle reader |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in table.items():
        peer, deflate, _ = name.partition("_deflate")
        ours = table.get("ours_deflate" if deflate else "ours")
        if ours is None or peer not in TARGETS:
            continue
        goals = TARGETS[peer]
        cells = []
        for key in ("cpu", "net", "last", "rss"):
            ratio = ours[key] / row[key] if row[key] else float("nan")
            goal = f" (≤ {goals[key]})" if key in goals else ""
            cells.append(f"{ratio:.2f}{goal}")
        lines.append(f"| {runs[name][0].name} | " + " | ".join(cells) + " |")
    return lines if len(lines) > 2 else []


def run_all(sizes: list[int], names: list[str], posts: int, rounds: int, clients: int) -> str:
    """Run every target at every size; return the summary as a Markdown table."""
    lines = []
    for readers in sizes:
        swarms = max(clients, -(-readers // 5000))
        runs: dict[str, list[Result]] = {name: [] for name in names}
        for round_ in range(rounds):
            for name in names:  # alternate, so that drifts of the machine hit every target
                result = run_target(name, readers, posts, swarms)
                runs[name].append(result)
                print(f"\n[{readers} readers, round {round_ + 1}]", end="")
                show(result)
        table = {name: summary(results) for name, results in runs.items()}
        lines.append(f"\n{readers} readers, {posts} posts, medians of {rounds} round(s):\n")
        lines.append(
            "| target | CPU µs / delivery (posts' own aside) | post ms | last reader ms "
            "| deliveries / s "
            "| RSS KB / idle reader | kernel KB / idle reader (buffers + slab) "
            "| writes / delivery | wire bytes / delivery | all connected s | missing |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, row in table.items():
            lines.append(
                f"| {runs[name][0].name} | {row['cpu']:.1f} ({row['net']:.1f}) | "
                f"{row['post']:.1f} | {row['last']:.1f} | "
                f"{row['rate']:,.0f} | {row['rss']:.1f} | "
                f"{row['buffers']:.1f} + {row['slab']:.1f} | {row['writes']:.2f} | "
                f"{row['wire']:,.0f} | {row['connect']:.1f} | {row['missing']:.0f} |"
            )
        lines.extend(ratios(table, runs))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", default="5000", help="comma-separated reader counts")
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="client processes (at least)")
    parser.add_argument(
        "--targets", default="ours,naive,floor",
        help=f"comma-separated, of: {', '.join(STARTERS)}",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per target")
    parser.add_argument(
        "--entry",
        choices=("short", "real"),
        default="short",
        help="short: two sentences; real: a few hundred words, list, quote, image",
    )
    parser.add_argument("--baseline", help="a commit to run as the 'base' targets")
    args = parser.parse_args()
    global BODY, BASELINE
    BODY = REAL_BODY if args.entry == "real" else SHORT_BODY
    if args.baseline:
        BASELINE = checkout(args.baseline)
    raise_file_limit()
    sizes = [int(n) for n in args.readers.split(",")]
    print(run_all(sizes, args.targets.split(","), args.posts, args.rounds, args.clients))


if __name__ == "__main__":
    main()
