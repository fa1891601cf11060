"""Hostile readers: what their frames cost the server, and what they cost the other readers.

    .venv/bin/python -m bench.hostile --baseline 51d7434     # ours against an older commit

1. Cost per MB: one client opens a reader and sends small masked frames (pongs with a 16-byte
   payload) as fast as it can, reconnecting whenever the server closes it, until it has put
   `--megabytes` into its socket. Printed: the server's CPU seconds per MB the client sent.
   "ours, no frame budget" lifts READER_CONTROL_FRAMES so that every frame is parsed: the
   websockets library's own parsing cost.
2. Others' latency: 200 readers get posts at 10/s; then 20 hostile clients each send 1 MB
   of frames, again and again (reconnecting when cut off), while the posts go on. Printed:
   p50/p99 of the 200 readers' delivery latency in each phase, and whether any was missed.
Nothing here is a test: it prints figures.
"""

import argparse
import base64
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.fanout import cpu_seconds
from bench.harness import Ours, Swarms, checkout, raise_file_limit
from bench.wsclient import run_swarm

FRAME = bytes((0x8A, 0x80 | 16)) + os.urandom(4) + os.urandom(16)  # a masked pong
BLAST = FRAME * (65536 // len(FRAME))


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/blogs/bench HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("no handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head[:100].decode("latin-1"))
    return sock


def push(port: int, total: int, stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
    """Send `total` bytes of frames as readers would not; returns (bytes sent, connections)."""
    sent, connections = 0, 0
    while sent < total and not stop():
        try:
            sock = handshake(port)
        except (OSError, ConnectionError):
            time.sleep(0.05)
            continue
        connections += 1
        try:
            while sent < total and not stop():
                sock.sendall(BLAST)  # whole blasts: the frames stay aligned
                sent += len(BLAST)
        except OSError:
            pass
        finally:
            sock.close()
    return sent, connections


def attack(port: int, stop: threading.Event) -> None:
    """A hostile reader: 1 MB of frames, again and again, until told to stop."""
    while not stop.is_set():
        push(port, 1024 * 1024, stop.is_set)


def start(source: Path | None, **settings: str) -> tuple[Ours, int, int]:
    ours = Ours("hostile", source=source, **settings)
    port, process = ours.serve()
    client = ours.client(port)
    client.post("/api/blogs", json={"slug": "bench", "title": "Bench"}).raise_for_status()
    return ours, port, process.pid


def cost_per_mb(source: Path | None, megabytes: float, **settings: str) -> tuple[float, int]:
    ours, port, pid = start(source, reader_connects_per_second="0", **settings)
    try:
        time.sleep(0.5)
        before = cpu_seconds(pid)
        sent, connections = push(port, int(megabytes * 1024 * 1024))
        time.sleep(0.5)  # let it finish what it read
        return (cpu_seconds(pid) - before) / (sent / 1024 / 1024), connections
    finally:
        ours.close()


def latency(source: Path | None, posts: int, attackers: int) -> dict[str, list[float]]:
    # With the shipped pacing of reader connects (an attacker that is cut off reconnects).
    ours, port, _ = start(source, reader_connects_per_second="20")
    client = ours.client(port)
    swarms = Swarms(run_swarm, port, "/ws/blogs/bench", 200, 2)
    phases: dict[str, list[float]] = {}
    missing = 0
    try:
        offset = 0
        for phase in ("quiet", "under attack"):
            stop = threading.Event()
            threads = []
            if phase == "under attack":
                for _ in range(attackers):
                    thread = threading.Thread(target=attack, args=(port, stop), daemon=True)
                    thread.start()
                    threads.append(thread)
                time.sleep(0.5)
            sent_at: dict[int, float] = {}
            for _ in range(posts):
                started = time.monotonic()
                offset += 1
                sent_at[offset] = time.time()
                client.post(
                    "/api/blogs/bench/entries", json={"body": f"Update {offset}"}
                ).raise_for_status()
                time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
            swarms.ask("wait", offset, 60)
            stop.set()
            for thread in threads:
                thread.join()
            arrivals: dict[int, list[float]] = {}
            for _, got, _, _, _ in swarms.ask("report"):
                for n, times in got.items():
                    arrivals.setdefault(n, []).extend(times)
            phases[phase] = [(t - sent_at[n]) * 1000 for n in sent_at for t in arrivals.get(n, [])]
            missing += sum(200 - len(arrivals.get(n, [])) for n in sent_at)
        phases["missing"] = [float(missing)]
        return phases
    finally:
        swarms.close()
        ours.close()


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="a commit to compare with")
    parser.add_argument("--megabytes", type=float, default=15)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--attackers", type=int, default=20)
    parser.add_argument("--cost-only", action="store_true", help="skip the latency part")
    args = parser.parse_args()
    raise_file_limit()
    base = checkout(args.baseline) if args.baseline else None
    targets: list[tuple[str, Path | None, dict[str, str]]] = [
        ("ours", None, {}),
        ("ours, no frame budget", None, {"reader_control_frames": "1000000000"}),
    ]
    if base is not None:
        targets.append((f"base ({args.baseline})", base, {}))

    print(f"\n1. Server CPU per MB of small frames one reader sends ({args.megabytes} MB)\n")
    print("| target | CPU s / MB sent | connections it took |")
    print("|---|---:|---:|")
    for name, source, settings in targets:
        cost, connections = cost_per_mb(source, args.megabytes, **settings)
        print(f"| {name} | {cost:.4f} | {connections:,} |")

    if args.cost_only:
        return
    print(f"\n2. 200 readers' delivery latency, {args.attackers} hostile readers sending 1 MB each")
    print("\n| target | phase | p50 ms | p99 ms | missing |")
    print("|---|---|---:|---:|---:|")
    for name, source, _ in targets[:1] + targets[2:]:
        phases = latency(source, args.posts, args.attackers)
        missing = int(phases.pop("missing")[0])
        for phase, values in phases.items():
            print(f"| {name} | {phase} | {p(values, 50):.1f} | {p(values, 99):.1f} | {missing} |")


if __name__ == "__main__":
    main()
