"""`docker compose up`, for real: the shipped Dockerfile and docker-compose.yml built and
run on a Docker engine, and driven as ops would (docs/OPERATIONS.md).

Registries cannot be reached here, so the base images are local stand-ins built from
Debian's packages (tests/system/standins/). The stack runs on its compose project's own
bridge network; the test talks to it through nginx's published port on loopback and
`docker compose exec`, and removes its containers, networks, volumes and image even when
it fails. A full run builds and starts the stack three times: `make soak` runs it.
"""

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins"
CACHE = Path(os.environ.get("STANDIN_CACHE", "/var/tmp/liveupdates-standins"))
BASE = "liveupdates-standin-base:bookworm"
# What the stand-ins hold: one Debian rootfs for every image (tests/system/standins/).
PACKAGES = [
    "python3", "python3-pip", "python3-venv", "ca-certificates", "postgresql-15",
    "redis-server", "redis-tools", "nginx", "prometheus",
]  # fmt: skip
STANDIN_NAMES = {
    "python:3.11-slim": "python",
    "postgres:16-alpine": "postgres",
    "redis:7-alpine": "redis",
    "nginx:1.27-alpine": "nginx",
    "prom/prometheus:v2.53.2": "prometheus",
}

pytestmark = pytest.mark.skipif(
    not os.environ.get("SOAK"), reason="builds and runs the whole stack: make soak"
)


def run(*command: str, cwd: Path | None = None, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)}: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


@contextlib.contextmanager
def docker_engine() -> Iterator[None]:
    """A running Docker engine (and docker-compose), installed and started when missing;
    stopped after if this test started it."""
    if os.geteuid() != 0:
        pytest.skip("the Docker engine test needs root (to install and start dockerd)")
    missing = [
        tool for tool in ("dockerd", "docker-compose", "debootstrap") if not shutil.which(tool)
    ]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        installed = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker.io", "docker-compose", "debootstrap"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if installed.returncode != 0:
            pytest.skip(f"no Docker engine here: {installed.stderr.strip()[-200:]}")
    started = None
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        CACHE.mkdir(parents=True, exist_ok=True)
        with (CACHE / "dockerd.log").open("ab") as log:
            started = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(60):
            if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        else:
            started.terminate()
            pytest.skip(
                "dockerd did not start here (see /var/tmp/liveupdates-standins/dockerd.log)"
            )
    try:
        yield
    finally:
        if started is not None:
            started.terminate()
            started.wait(timeout=60)


def build_standins() -> None:
    """The base images our files name, from Debian's packages, unless the real ones are
    here (an image of that name without our label is left alone)."""
    wanted = []
    for name, folder in STANDIN_NAMES.items():
        inspected = subprocess.run(
            ["docker", "image", "inspect", "--format",
             '{{index .Config.Labels "liveupdates.standin"}}', name],
            capture_output=True, text=True,
        )  # fmt: skip
        if inspected.returncode != 0 or inspected.stdout.strip() == "true":
            wanted.append((name, folder))
    if not wanted:
        return
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode:
        rootfs = CACHE / "rootfs"
        if not (rootfs / "usr/bin/python3").exists():
            shutil.rmtree(rootfs, ignore_errors=True)
            run("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                "bookworm", str(rootfs), "http://deb.debian.org/debian", timeout=1200)  # fmt: skip
            # As the real images: no cluster made by the package; pip may install.
            shutil.rmtree(rootfs / "var/lib/postgresql/15", ignore_errors=True)
            shutil.rmtree(rootfs / "etc/postgresql/15", ignore_errors=True)
            (rootfs / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
        # This machine's certificate authorities (its proxy's too): pip reaches PyPI.
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, check=True,
                           capture_output=True)  # fmt: skip
    for name, folder in wanted:
        run("docker", "build", "-q", "-t", name, str(STANDINS / folder))


class Stack:
    """The compose project in a copy of the checkout, with its own .env."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.project = f"lutest{os.getpid()}"
        self.port = free_port()
        self.prometheus_port = free_port()
        self.version = f"test-{os.getpid()}"
        files = run("git", "ls-files", "-z", cwd=ROOT).split("\0")
        for name in filter(None, files):
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_file():
                shutil.copy2(ROOT / name, target)
        # As docs/OPERATIONS.md says: .env from the example, the password and address set.
        example = (workdir / ".env.example").read_text()
        env = example.replace(
            "POSTGRES_PASSWORD=change-me-to-a-long-random-string",
            f"POSTGRES_PASSWORD={secrets.token_hex(16)}",
        )
        env += (
            f"\nPUBLIC_URL=http://127.0.0.1:{self.port}\nHTTP_PORT={self.port}\n"
            f"PROMETHEUS_PORT={self.prometheus_port}\nGRAFANA_PORT={free_port()}\n"
            f"LIVEUPDATES_VERSION={self.version}\n"
        )
        (workdir / ".env").write_text(env)
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        return run("docker-compose", "-p", self.project, *args, cwd=self.dir, timeout=timeout)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def remove(self) -> None:
        subprocess.run(
            ["docker-compose", "-p", self.project, "--profile", "monitoring", "down", "-v",
             "--remove-orphans", "--timeout", "5"],
            cwd=self.dir, capture_output=True, timeout=300,
        )  # fmt: skip
        subprocess.run(
            ["docker", "image", "rm", f"liveupdates:{self.version}"], capture_output=True
        )

    async def ready(self, seconds: float = 180) -> None:
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(int(seconds / 0.5)):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.5)
        raise AssertionError(f"the stack was not ready:\n{self.compose('logs', '--tail', '50')}")

    def metrics_of(self, container: str) -> str:
        script = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())"
        return run("docker", "exec", container, "python", "-c", script)


def readers_here(metrics: str) -> int:
    for line in metrics.splitlines():
        if line.startswith('liveupdates_readers{transport="websocket"}'):
            return int(float(line.split()[-1]))
    return 0


@contextlib.asynccontextmanager
async def readers(stack: Stack, count: int) -> AsyncIterator[list[ClientConnection]]:
    opened = []
    try:
        for _ in range(count):
            ws = await connect(f"ws://127.0.0.1:{stack.port}/ws/blogs/ops")
            assert orjson.loads(await ws.recv())["type"] == "hello"
            opened.append(ws)
        yield opened
    finally:
        for ws in opened:
            await ws.close()


async def test_the_shipped_stack_runs_as_ops_run_it(tmp_path: Path) -> None:
    with docker_engine():
        build_standins()
        stack = Stack(tmp_path)
        try:
            await drive(stack)
        finally:
            stack.remove()


async def drive(stack: Stack) -> None:
    stack.compose("build", timeout=1200)
    size = run(
        "docker", "image", "inspect", "--format", "{{.Size}}", f"liveupdates:{stack.version}"
    )
    print(f"image liveupdates:{stack.version}: {int(size) / 1e6:.0f} MB on the stand-in base")
    # The image starts with no network at all (SQLite by default) and reports healthy.
    offline = run(
        "docker", "run", "-d", "--network", "none", f"liveupdates:{stack.version}"
    ).strip()
    try:
        for _ in range(120):
            health = run("docker", "inspect", "--format", "{{.State.Health.Status}}", offline)
            if health.strip() == "healthy":
                break
            time.sleep(0.5)
        if health.strip() != "healthy":
            logs = subprocess.run(["docker", "logs", offline], capture_output=True, text=True)
            state = run("docker", "inspect", "--format", "{{json .State}}", offline)
            raise AssertionError(f"{health} {state}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        assert run("docker", "exec", offline, "id", "-un").strip() == "liveupdates"
        assert "gcc" not in run("docker", "exec", offline, "sh", "-c", "ls /usr/bin")
    finally:
        subprocess.run(["docker", "rm", "-f", offline], capture_output=True)

    stack.compose("up", "-d", timeout=600)
    await stack.ready()

    # Migrations ran (the migrate service), to the newest.
    head = sorted(p.name for p in (ROOT / "migrations/versions").glob("*.py"))[-1].split("_")[3]
    version = stack.compose(
        "exec", "-T", "postgres", "psql", "-U", "liveupdates", "-d", "liveupdates", "-tAc",
        "SELECT version_num FROM alembic_version",
    ).strip()  # fmt: skip
    assert version == head
    # A token, with the documented command.
    created = stack.compose("exec", "-T", "app", "liveupdates", "token", "create", "--name",
                            "ops", "--role", "admin")  # fmt: skip
    token = created.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        r = await client.post("/api/blogs", json={"slug": "ops", "title": "Ops"}, headers=auth)
        assert r.status_code == 201, r.text
        apps = stack.containers("app")
        assert len(apps) == 2
        # Readers through nginx land on both instances; a post through nginx reaches all.
        async with readers(stack, 8) as opened:
            counts = [readers_here(stack.metrics_of(app)) for app in apps]
            assert sum(counts) == 8 and all(counts), counts
            r = await client.post("/api/blogs/ops/entries", json={"body": "First"}, headers=auth)
            assert r.status_code == 201
            for ws in opened:
                event = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                assert event["entry"]["body"] == "First"
        # The page is micro-cached by nginx: a second read within the second is a hit.
        statuses = [
            (await client.get("/blogs/ops")).headers.get("x-cache-status") for _ in range(3)
        ]
        assert "HIT" in statuses, statuses

        # One instance restarted: readers resume gapless, keyed posts are stored once.
        async with readers(stack, 6) as opened:
            seen: list[list[int]] = [[] for _ in opened]
            keys = [f"restart-{n}" for n in range(20)]

            async def post_all() -> None:
                for key in keys:
                    for _ in range(100):
                        with contextlib.suppress(httpx.TransportError):
                            r = await client.post(
                                "/api/blogs/ops/entries", json={"body": key},
                                headers={**auth, "Idempotency-Key": key},
                            )  # fmt: skip
                            if r.status_code == 201:
                                break
                        await asyncio.sleep(0.2)
                    else:
                        raise AssertionError(f"{key} was never acknowledged")
                    await asyncio.sleep(0.1)

            async def follow(index: int, ws: ClientConnection) -> None:
                last = 1
                while True:
                    try:
                        async for message in ws:
                            event = orjson.loads(message)
                            if "offset" in event and event["type"] != "hello":
                                seen[index].append(event["offset"])
                                last = event["offset"]
                        return
                    except Exception:
                        pass
                    await asyncio.sleep(0.3)
                    with contextlib.suppress(Exception):
                        ws = await connect(f"ws://127.0.0.1:{stack.port}/ws/blogs/ops?since={last}")

            followers = [asyncio.create_task(follow(i, ws)) for i, ws in enumerate(opened)]
            posting = asyncio.create_task(post_all())
            await asyncio.sleep(0.5)
            run("docker", "restart", "--time", "30", stack.containers("app")[0])
            await posting
            await stack.ready()
            r = await client.get("/api/blogs/ops")
            final = r.json()["offset"]
            for _ in range(100):
                if all(s and s[-1] == final for s in seen):
                    break
                await asyncio.sleep(0.1)
            for task in followers:
                task.cancel()
            assert final == 1 + len(keys)  # the blog's offsets: "First", then each key once
            for offsets in seen:
                assert offsets == list(range(2, final + 1)), offsets
        bodies = [
            e["body"]
            for e in (await client.get("/api/blogs/ops/entries?limit=100")).json()["entries"]
        ]
        assert sorted(b for b in bodies if b.startswith("restart-")) == sorted(keys)

    # down and up keep the data (volumes); Prometheus scrapes every instance.
    stack.compose("down", "--timeout", "30")
    stack.compose("--profile", "monitoring", "up", "-d", "postgres", "redis", "migrate", "app",
                  "nginx", "prometheus")  # fmt: skip
    await stack.ready()
    async with httpx.AsyncClient(base_url=stack.url) as client:
        entries = (await client.get("/api/blogs/ops/entries?limit=100")).json()["entries"]
        assert len(entries) == 1 + len(keys)
    prometheus = f"http://127.0.0.1:{stack.prometheus_port}"
    up: list[str] = []
    async with httpx.AsyncClient(base_url=prometheus) as client:
        for _ in range(120):
            with contextlib.suppress(httpx.TransportError):
                r = await client.get("/api/v1/targets")
                targets = r.json()["data"]["activeTargets"]
                up = [t["scrapeUrl"] for t in targets if t["health"] == "up"]
                if len(up) == 2:
                    break
            await asyncio.sleep(1)
    assert len(up) == 2, json.dumps(up)
