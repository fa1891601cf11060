"""Page surge: requests per second for a reader page of 200 entries and for its Atom feed,
against nginx serving the same HTML as a static file, and through the shipped nginx
config (deploy/nginx/, micro-caching) in front of the app, while a reporter posts and a
probe measures how stale the cached page gets. One process each; load from wrk.

    .venv/bin/python -m bench.pages [--seconds 10] [--connections 50]

Needs Debian's nginx and wrk (`apt-get install nginx wrk`).
"""

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.harness import Ours, free_port, wait_http

BIN = Path(sys.executable).parent
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "nginx"


def shipped_nginx(workdir: Path, port: int, upstream: int) -> Path:
    """deploy/nginx/ as shipped, on a local port, one worker (as the static nginx), in
    front of one instance; its cache where its worker can write."""
    here = workdir / "shipped"
    here.mkdir()
    cache = here / "cache"
    cache.mkdir()
    for path in (workdir, here, cache):
        path.chmod(0o755)
    config = (DEPLOY / "nginx.conf").read_text()
    for docker, local in (
        (
            "worker_processes auto;",
            f"worker_processes 1;\ndaemon off;\npid {here}/nginx.pid;\nerror_log {here}/error.log;",
        ),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("alias /srv/media/;", f"alias {here}/;"),
        ("/var/cache/nginx/liveupdates", str(cache)),
        ("    sendfile on;", "    sendfile on;\n    access_log off;"),
    ):
        assert docker in config, docker
        config = config.replace(docker, local)
    (here / "nginx.conf").write_text(config)
    (here / "upstream.conf").write_text(f"server 127.0.0.1:{upstream};\n")
    shutil.copy(DEPLOY / "microcache.conf", here / "microcache.conf")
    return here


class StalenessProbe(threading.Thread):
    """Posts an entry every `every` seconds and times how long until the page at `url`
    shows it: how stale a reader of the cache can find the page."""

    def __init__(self, api: httpx.Client, url: str, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.api, self.url, self.every = api, url, every
        self.samples: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client() as reader:
            n = 0
            while not self.stopping.is_set():
                text = f"Probe {n} {time.monotonic()}"
                self.api.post("/api/blogs/surge/entries", json={"body": text}).raise_for_status()
                posted = time.monotonic()
                while text not in reader.get(self.url).text:
                    time.sleep(0.05)  # light: the box is shared with the load
                self.samples.append(time.monotonic() - posted)
                n += 1
                # At a random moment of the second: staleness depends on when a post lands.
                self.stopping.wait(random.uniform(0.3 * self.every, 1.3 * self.every))


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  types {{ text/html html; }}
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
  }}
}}
"""


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str] | None = None) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--entries", type=int, default=200)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"bench.pages needs {tool}: apt-get install nginx wrk")

    ours = Ours("pages")
    port, _ = ours.serve()
    workdir, nginx_port = ours.workdir, free_port()
    nginx = None
    try:
        base = f"http://127.0.0.1:{port}"
        with ours.client(port) as api:
            api.post("/api/blogs", json={"slug": "surge", "title": "Surge"}).raise_for_status()
            for n in range(args.entries):
                api.post(
                    "/api/blogs/surge/entries",
                    json={
                        "headline": f"Update {n}" if n % 3 == 0 else None,
                        "body": f"Update number {n}: officials say **turnout** is high.\n\n"
                        "> A quote from a voter outside the polling station.",
                        "key_event": n % 25 == 0,
                    },
                ).raise_for_status()
            page = api.get("/blogs/surge").content
        (workdir / "www").mkdir()
        (workdir / "www" / "surge.html").write_bytes(page)
        conf = workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=workdir, port=nginx_port))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)])
        wait_http(f"http://127.0.0.1:{nginx_port}/surge.html")
        time.sleep(0.5)

        shipped_port = free_port()
        shipped = shipped_nginx(workdir, shipped_port, port)
        front = subprocess.Popen(["nginx", "-c", str(shipped / "nginx.conf"), "-p", str(shipped)])
        cached = f"http://127.0.0.1:{shipped_port}/blogs/surge"
        wait_http(cached)

        results = {}
        # The two that are compared, in turns (the box is small and noisy; medians of
        # three), while a reporter posts every second and a probe times the staleness.
        static = f"http://127.0.0.1:{nginx_port}/surge.html"
        wrk(cached, 2, args.connections)
        wrk(static, 2, args.connections)
        probe = StalenessProbe(ours.client(port), cached)
        probe.start()
        rounds: dict[str, list[float]] = {"static": [], "cached": []}
        for _ in range(3):
            rounds["static"].append(wrk(static, args.seconds, args.connections))
            rounds["cached"].append(wrk(cached, args.seconds, args.connections))
        probe.stopping.set()
        probe.join(timeout=30)
        front.terminate()
        front.wait(timeout=30)
        results["nginx, static file"] = statistics.median(rounds["static"])
        results["shipped nginx, micro-cached reader page"] = statistics.median(rounds["cached"])
        for name, url in (
            ("ours alone, reader page", f"{base}/blogs/surge"),
            ("ours, Atom feed", f"{base}/blogs/surge/feed.atom"),
            # A shared link to one update going viral: an entry's own page.
            ("ours, an entry's page", f"{base}/blogs/surge/entries/{args.entries // 2}"),
        ):
            wrk(url, 2, args.connections)  # warm up
            results[name] = wrk(url, args.seconds, args.connections)
        gz = {"Accept-Encoding": "gzip"}
        results["ours, reader page (gzip)"] = wrk(
            f"{base}/blogs/surge", args.seconds, args.connections, gz
        )

        nginx_rps = results["nginx, static file"]
        print(f"\nPage of {args.entries} entries: {len(page) / 1024:.0f} KB")
        print("| what | requests/s | ours / nginx |")
        print("|---|---:|---:|")
        for name, rps in results.items():
            print(f"| {name} | {rps:,.0f} | {rps / nginx_rps:.2f} |")
        print("\ntarget: reader page >= 0.40 x nginx")
        print("target: micro-cached reader page >= 0.80 x nginx, never more than 1 s stale")
        samples = sorted(probe.samples)
        print(
            f"\nstaleness through the micro-cache, while posting every second under load: "
            f"{len(samples)} posts, median {statistics.median(samples) * 1000:.0f} ms, "
            f"max {samples[-1] * 1000:.0f} ms"
        )
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=30)
        ours.close()


if __name__ == "__main__":
    main()
