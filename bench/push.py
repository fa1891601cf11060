"""What alerting 10,000 subscribers of a key event costs: readers of one blog get an entry
every `1 / --pace` s for a window; halfway through a second window the entry is a key event
with `--subscribers` Web Push subscriptions, whose messages go to a push service on
loopback (a process of its own that takes each and counts it, as a real one would, without
decrypting). Prints the time from the key event's post to the last message the push service
took, the server's CPU for the sending, and p50/p99 from each post to its last reader in the
window without alerts and the window with them. Nothing here is a test.

    .venv/bin/python -m bench.push [--readers 2000] [--subscribers 10000] [--window 30]
"""

import argparse
import base64
import multiprocessing as mp
import statistics
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.fanout import cpu_seconds
from bench.harness import Ours, Swarms, free_port, raise_file_limit, wait_http
from bench.votes import percentile
from bench.wsclient import run_swarm


def push_service(port: int) -> None:
    """A push service's receiving end: 201 to every message; `/report`: how many came, and
    when the last did."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    arrivals: list[float] = []

    async def take(request: Request) -> Response:
        await request.body()
        arrivals.append(time.time())
        return Response(status_code=201)

    async def report(request: Request) -> Response:
        return JSONResponse({"count": len(arrivals), "last": max(arrivals, default=0.0)})

    routes = [Route("/push/{n}", take, methods=["POST"]), Route("/report", report)]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def window(
    client: httpx.Client, swarms: Swarms, seconds: float, pace: float, key_at: float | None
) -> tuple[list[float], float | None]:
    """Post for `seconds`; the post at `key_at` s (if any) is a key event. Returns each
    post's time to its last reader (ms) and when the key event was posted."""
    offset = client.get("/api/blogs/alerts").json()["offset"]
    start = time.time() + 1
    sent_at: dict[int, float] = {}
    key_posted = None
    posts = int(seconds * pace)
    for n in range(1, posts + 1):
        time.sleep(max(0.0, start + (n - 1) / pace - time.time()))
        key = key_at is not None and key_posted is None and time.time() >= start + key_at
        sent_at[offset + n] = time.time()
        if key:
            key_posted = sent_at[offset + n]
        body = {"body": f"Update {n}", "key_event": key}
        client.post("/api/blogs/alerts/entries", json=body).raise_for_status()
    swarms.ask("wait", offset + posts, 120)
    arrivals: dict[int, list[float]] = {}
    for _, got, _, _, _ in swarms.ask("report"):
        for at, times in got.items():
            arrivals.setdefault(at, []).extend(times)
    last = [(max(arrivals[o]) - sent_at[o]) * 1000 for o in sent_at if arrivals.get(o)]
    return last, key_posted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--pace", type=float, default=4.0, help="posts per second")
    args = parser.parse_args()
    raise_file_limit()
    service_port = free_port()
    service = mp.get_context("spawn").Process(target=push_service, args=(service_port,))
    service.start()
    wait_http(f"http://127.0.0.1:{service_port}/report")
    ours = Ours("push", push_service_hosts="127.0.0.1")
    port, server = ours.serve()
    client = ours.client(port)
    swarms: Swarms | None = None
    try:
        client.post("/api/blogs", json={"slug": "alerts", "title": "Alerts"}).raise_for_status()
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys = {"p256dh": b64(point), "auth": b64(b"0123456789abcdef")}
        began = time.monotonic()
        for n in range(args.subscribers):
            subscription = {"endpoint": f"http://127.0.0.1:{service_port}/push/{n}", "keys": keys}
            client.post("/api/blogs/alerts/push", json=subscription).raise_for_status()
        print(f"{args.subscribers:,} subscribed in {time.monotonic() - began:.1f} s", flush=True)
        swarms = Swarms(run_swarm, port, "/ws/blogs/alerts", args.readers, 2)
        print(f"{swarms.connected:,} readers; {args.pace:g} posts a second", flush=True)
        alone, _ = window(client, swarms, args.window, args.pace, None)
        cpu = cpu_seconds(server.pid)
        alerted, key_posted = window(client, swarms, args.window, args.pace, args.window / 2)
        assert key_posted is not None
        deadline = time.time() + 300
        report: dict[str, Any] = {"count": 0, "last": 0.0}
        while time.time() < deadline and report["count"] < args.subscribers:
            time.sleep(0.5)
            report = httpx.get(f"http://127.0.0.1:{service_port}/report").json()
        cpu = cpu_seconds(server.pid) - cpu
        print(f"alerts: {report['count']:,} of {args.subscribers:,} taken by the push service; "
              f"last {report['last'] - key_posted:.2f} s after the key event's post; "
              f"server CPU in the window {cpu:.1f} s")  # fmt: skip
        for name, last in (("no alerts", alone), ("alerting", alerted)):
            print(f"{name:>10}: last reader p50 {statistics.median(last):.1f} ms, "
                  f"p99 {percentile(last, 0.99):.1f} ms, max {max(last):.0f} ms "
                  f"({len(last)} posts)")  # fmt: skip
        print(f"p99 alerting / without = "
              f"{percentile(alerted, 0.99) / percentile(alone, 0.99):.2f}")  # fmt: skip
    finally:
        if swarms is not None:
            swarms.close()
        client.close()
        ours.close()
        service.terminate()


if __name__ == "__main__":
    main()
