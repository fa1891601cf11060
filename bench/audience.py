"""What counting the live audience costs: 30,000 idle WebSocket readers of one blog on
two workers with Redis, with the audience off (AUDIENCE_SECONDS=0), counted (the
default, 5 s) and counted and shown to readers (a notice every 30 s). Prints the server's
and Redis's CPU per second over the same idle window in each, the count the API gave, and
the ratios against "off" measured in the same run. Nothing here is a test.

    .venv/bin/python -m bench.audience [--readers 30000] [--window 60]
"""

import argparse
import os
import subprocess
import time
from pathlib import Path

from bench.fanout import cpu_seconds, rss_bytes
from bench.harness import Ours, Swarms, raise_file_limit
from bench.wsclient import run_swarm

TICKS = os.sysconf("SC_CLK_TCK")
REDIS = "redis://127.0.0.1:6379/0"


def redis_cpu() -> float:
    """CPU seconds redis-server has used (its pid from INFO)."""
    info = subprocess.run(["redis-cli", "info", "server"], capture_output=True, text=True).stdout
    pid = next(
        int(line.split(":")[1]) for line in info.splitlines() if line.startswith("process_id")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run(name: str, seconds: str, show: bool, readers: int, window: float) -> dict[str, float]:
    ours = Ours(f"audience-{name}", broker_url=REDIS, audience_seconds=seconds)
    port, process = ours.serve(workers=2)
    client = ours.client(port)
    try:
        client.post("/api/blogs", json={"slug": "crowd", "title": "Crowd"}).raise_for_status()
        if show:
            client.patch("/api/blogs/crowd", json={"show_audience": True}).raise_for_status()
        processes = max(3, -(-readers // 10_000))
        swarms = Swarms(run_swarm, port, "/ws/blogs/crowd", readers, processes)
        try:
            time.sleep(max(3 * float(seconds), 2))  # a few rounds: the count settles
            counted = client.get("/api/blogs/crowd/audience").json()["readers"]
            server0, redis0, t0 = cpu_seconds(process.pid), redis_cpu(), time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - t0
            server = (cpu_seconds(process.pid) - server0) / elapsed
            redis = (redis_cpu() - redis0) / elapsed
            closed = sum(report[3] for report in swarms.ask("report"))
            rss = rss_bytes(process.pid)
        finally:
            swarms.close()
    finally:
        client.close()
        ours.close()
    print(
        f"{name:>22}: {swarms.connected:,} readers, API counted {counted:,}; server CPU "
        f"{server * 1000:.1f} ms/s, Redis {redis * 1000:.2f} ms/s, RSS {rss / 2**20:.0f} MB, "
        f"dropped {closed}",
        flush=True,
    )
    return {"server": server, "redis": redis, "counted": counted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=30_000)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    raise_file_limit()
    runs = {
        "off": run("off", "0", False, args.readers, args.window),
        "counted (5 s)": run("counted", "5", False, args.readers, args.window),
        "counted and shown": run("shown", "5", True, args.readers, args.window),
    }
    base = runs["off"]
    for name, result in runs.items():
        extra = (result["server"] - base["server"]) * 1000
        print(
            f"{name:>22}: server CPU {result['server'] / base['server']:.2f}x off "
            f"({extra:+.1f} ms/s); Redis {result['redis'] * 1000:.2f} ms/s"
        )


if __name__ == "__main__":
    main()
