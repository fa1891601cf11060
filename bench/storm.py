"""Reconnect storm: N readers connected, the server restarted while 20 entries are posted.

    .venv/bin/python -m bench.storm                 # 10,000 readers
    .venv/bin/python -m bench.storm --readers 2000

10 entries are posted and seen; the server is stopped (SIGTERM: readers get 1012); 10
more are posted through a second instance on the same database while it is down; it is
started again on the same port. Every reader reconnects with backoff and jitter, resuming
from the last offset it saw. Prints the time until all have caught up and the count of
missing, duplicated and out-of-order events (all must be 0).
"""

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.fanout import free_port, wait_http
from bench.resuming import run_resuming_swarm

BIN = Path(sys.executable).parent


def serve(workdir: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [BIN / "liveupdates", "serve", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=workdir,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/api/blogs")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workdir = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/storm.db"}
    env["BROKER_URL"] = "memory://"
    env["SHUTDOWN_GRACE_SECONDS"] = "1"
    subprocess.run([BIN / "liveupdates", "migrate"], env=env, cwd=workdir, check=True)
    made = subprocess.run(
        [BIN / "liveupdates", "token", "create", "--name", "Storm", "--role", "admin"],
        env=env, cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    port = free_port()
    server = serve(workdir, env, port)
    other: subprocess.Popen[bytes] | None = None
    ctx = mp.get_context("spawn")
    swarms = []
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60)
        api.post("/api/blogs", json={"slug": "storm", "title": "Storm"}).raise_for_status()
        share = args.readers // args.clients
        for i in range(args.clients):
            commands, results = ctx.Queue(), ctx.Queue()
            process = ctx.Process(
                target=run_resuming_swarm,
                args=("127.0.0.1", port, "/ws/blogs/storm", share, f"127.0.0.{i + 2}",
                      commands, results),
                daemon=True,
            )  # fmt: skip
            process.start()
            swarms.append((process, commands, results))
        for _, _, results in swarms:
            results.get(timeout=600)
        readers = share * args.clients
        print(f"{readers} readers connected")

        def wait_all(offset: int, timeout: float) -> tuple[float, int]:
            for _, commands, _ in swarms:
                commands.put(("wait", offset, timeout))
            answers = [results.get(timeout=timeout + 60) for _, _, results in swarms]
            return max(a[1] for a in answers), sum(a[2] for a in answers)

        for n in range(10):
            api.post("/api/blogs/storm/entries", json={"body": f"Before {n}"}).raise_for_status()
        wait_all(10, 60)
        print("10 entries seen by all; restarting the server")

        killed = time.time()
        stop(server)
        other_port = free_port()
        other = serve(workdir, env, other_port)
        with httpx.Client(base_url=f"http://127.0.0.1:{other_port}", headers=headers) as second:
            for n in range(10):
                second.post("/api/blogs/storm/entries", json={"body": f"During {n}"})
        server = serve(workdir, env, port)
        restarted = time.time()
        done, caught_up = wait_all(20, 120)

        for _, commands, _ in swarms:
            commands.put(("report", 20))
        reports = [results.get(timeout=120) for _, _, results in swarms]
        missing = sum(r[1] for r in reports)
        duplicated = sum(r[2] for r in reports)
        disordered = sum(r[3] for r in reports)
        reconnects = sum(r[4] for r in reports)
        print(f"readers caught up:         {caught_up} of {readers}")
        print(f"from stop to all caught up:    {done - killed:6.2f} s")
        print(f"from restart to all caught up: {done - restarted:6.2f} s  (target < 5 s)")
        print(f"reconnects:                {reconnects}")
        print(f"missing events:            {missing}  (must be 0)")
        print(f"duplicated events:         {duplicated}  (must be 0)")
        print(f"readers out of order:      {disordered}  (must be 0)")
    finally:
        for _, commands, _ in swarms:
            commands.put(("close",))
        for process, _, _ in swarms:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        for process in (server, other):
            if process is not None and process.poll() is None:
                stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
