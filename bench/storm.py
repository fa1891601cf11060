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
import time

from bench.harness import Ours, Swarms, raise_file_limit
from bench.resuming import run_resuming_swarm


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    raise_file_limit()
    ours = Ours("storm", shutdown_grace_seconds="1")
    swarms: Swarms | None = None
    try:
        port, server = ours.serve()
        api = ours.client(port)
        api.post("/api/blogs", json={"slug": "storm", "title": "Storm"}).raise_for_status()
        swarms = Swarms(run_resuming_swarm, port, "/ws/blogs/storm", args.readers, args.clients)
        print(f"{swarms.connected} readers connected")

        def wait_all(offset: int, timeout: float) -> tuple[float, int]:
            answers = swarms.ask("wait", offset, timeout, timeout=timeout + 60)
            return max(a[1] for a in answers), sum(a[2] for a in answers)

        for n in range(10):
            api.post("/api/blogs/storm/entries", json={"body": f"Before {n}"}).raise_for_status()
        wait_all(10, 60)
        print("10 entries seen by all; restarting the server")

        killed = time.time()
        ours.stop(server)
        other_port, _ = ours.serve()
        with ours.client(other_port) as second:
            for n in range(10):
                second.post("/api/blogs/storm/entries", json={"body": f"During {n}"})
        ours.serve(port)
        restarted = time.time()
        done, caught_up = wait_all(20, 120)

        reports = swarms.ask("report", 20)
        missing = sum(r[1] for r in reports)
        duplicated = sum(r[2] for r in reports)
        disordered = sum(r[3] for r in reports)
        reconnects = sum(r[4] for r in reports)
        print(f"readers caught up:         {caught_up} of {swarms.connected}")
        print(f"from stop to all caught up:    {done - killed:6.2f} s")
        print(f"from restart to all caught up: {done - restarted:6.2f} s  (target < 5 s)")
        print(f"reconnects:                {reconnects}")
        print(f"missing events:            {missing}  (must be 0)")
        print(f"duplicated events:         {duplicated}  (must be 0)")
        print(f"readers out of order:      {disordered}  (must be 0)")
    finally:
        if swarms is not None:
            swarms.close()
        ours.close()


if __name__ == "__main__":
    main()
