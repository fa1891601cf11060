"""Page surge: requests per second for a reader page of 200 entries and for its Atom feed,
against nginx serving the same HTML as a static file. One process each; load from wrk.

    .venv/bin/python -m bench.pages [--seconds 10] [--connections 50]

Needs Debian's nginx and wrk (`apt-get install nginx wrk`).
"""

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Ours, free_port, wait_http

BIN = Path(sys.executable).parent
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

        results = {}
        for name, url in (
            ("nginx, static file", f"http://127.0.0.1:{nginx_port}/surge.html"),
            ("ours, reader page", f"{base}/blogs/surge"),
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
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=30)
        ours.close()


if __name__ == "__main__":
    main()
