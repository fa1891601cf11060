"""Real servers the tests start and stop on their own: `liveupdates serve` processes,
Redis and a private Postgres cluster (so that stopping them harms no other test), and the
other sites a server talks to, served on loopback in the test's loop (`on_loopback`)."""

import asyncio
import contextlib
import inspect
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from app.config import Settings

LIVEUPDATES = str(Path(sys.executable).with_name("liveupdates"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def distinct_free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """`count` ports free now, none the same as another or as any in `avoid`."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port not in avoid:
            ports.append(port)
    return ports


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`liveupdates ARGS…` on the database at `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([LIVEUPDATES, *args], env=env, capture_output=True, text=True)


class AppServer:
    """`liveupdates serve` as a separate process, to be killed and started again."""

    def __init__(
        self,
        settings: Settings,
        workdir: Path,
        workers: int = 1,
        log_level: str = "warning",
        open_files: int | None = None,
        **env: str,
    ) -> None:
        self.port = free_port()
        self.open_files = open_files  # the process's limit (soft and hard), if smaller
        self.workers = workers
        self.log_level = log_level
        self.env = {
            **os.environ, "DATABASE_URL": settings.database_url, "BROKER_URL": "memory://",
            "SHUTDOWN_GRACE_SECONDS": "1", "POST_RATE_PER_MINUTE": "0",
            **{name.upper(): value for name, value in env.items()},
        }  # fmt: skip
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [LIVEUPDATES, "serve", "--port", str(self.port), "--log-level", self.log_level,
                 "--workers", str(self.workers)],
                env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers with it: signalled and killed together
                preexec_fn=self._limit_files if self.open_files else None,
            )  # fmt: skip
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    await client.get(f"{self.url}/api/blogs")
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise AssertionError("the server did not start")

    def _limit_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def kill(self) -> None:
        """Every process of the instance at once, as when its machine dies."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            # Stuck: have every process write where (app/ops/stuck.py), then end them.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGUSR1)
            time.sleep(1)
            self.kill()
            raise AssertionError(f"the server did not stop on SIGTERM:\n{self.tail()}") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # nothing of it outlives the test
        if "Timeout (" in self.log.read_text(errors="replace"):
            # A process overran its shutdown and app/ops/stuck.py ended it: a hang to fix.
            raise AssertionError(f"the server's shutdown overran:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-8000:]


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        redis_server = shutil.which("redis-server")
        assert redis_server, "redis-server is not installed"
        self.process = subprocess.Popen(
            [redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class RedisCluster:
    """A Redis Cluster on loopback: three masters, each with a replica, quick to fail over
    (a master not heard from for a second is replaced by its replica)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = distinct_free_ports(6)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def start(self) -> None:
        for node in range(len(self.ports)):
            self._start_node(node)
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.until_ok()

    def _start_node(self, node: int, attempts: int = 5) -> None:
        """Start node `node`, on new ports if another process took its own between their
        choosing and the server's bind (its client port, or its bus port: by default port
        + 10000, which may not be free, so it is chosen too)."""
        redis_server = shutil.which("redis-server")
        assert redis_server, "redis-server is not installed"
        for _ in range(attempts):
            port = self.ports[node]
            bus = distinct_free_ports(1, avoid={*self.ports})[0]
            home = self.tmp / f"redis-{port}"
            home.mkdir(exist_ok=True)
            process = subprocess.Popen(
                [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(home), "--cluster-enabled", "yes",
                 "--cluster-port", str(bus), "--cluster-node-timeout", "1000",
                 "--cluster-replica-validity-factor", "0", "--logfile", str(home / "log")],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            if self._answers(port, process):
                self.processes[port] = process
                return
            self.ports[node] = distinct_free_ports(1, avoid={*self.ports})[0]
        raise AssertionError(f"redis node {node} did not start: see {home / 'log'}")

    def _answers(self, port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> bool:
        """Whether `process` itself answers on `port` (not another that holds it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            with contextlib.suppress(subprocess.TimeoutExpired):
                if f"process_id:{process.pid}" in self.cli(port, "info", "server", timeout=1):
                    return True
            time.sleep(0.1)
        process.kill()
        process.wait()
        return False

    def cli(self, port: int, *args: str, timeout: float = 5) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=timeout
        )
        return done.stdout

    def until_ok(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [p for p, process in self.processes.items() if process.poll() is None]
            if all("cluster_state:ok" in self.cli(port, "cluster", "info") for port in alive):
                return
            time.sleep(0.2)
        raise AssertionError("the cluster did not settle")

    def master_of(self, key: str) -> int:
        """The port of the master that owns `key`'s slot."""
        slot = int(self.cli(self.ports[0], "cluster", "keyslot", key))
        alive = next(p for p, process in self.processes.items() if process.poll() is None)
        for line in self.cli(alive, "cluster", "nodes").splitlines():
            fields = line.split()
            if "master" in fields[2] and "fail" not in fields[2]:
                for part in fields[8:]:
                    low, _, high = part.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        return int(fields[1].split(":")[1].split("@")[0])
        raise AssertionError(f"no master for slot {slot}")

    def kill(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return
        except httpx.RemoteProtocolError:
            return  # something answers, if not in HTTP (Redis)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").exists()
        else "x"
    )
    / "bin"
)


class PrivatePostgres:
    """A Postgres cluster of this test's own, so it can be stopped without harming others."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: the postgres user must be able to reach it.
        self.home = Path(tempfile.mkdtemp(prefix="liveupdates-pg-"))
        self.home.chmod(0o755)
        self.dir = self.home / "pg"
        self.dir.mkdir()
        os.chown(self.dir, *_postgres_ids())
        self.port = free_port()
        self.as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres"
        )

    @staticmethod
    def as_postgres(*command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # No pipes: the server pg_ctl starts would hold them open.
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.dir / "server.log")
        self.as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    return entry.pw_uid, entry.pw_gid


DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


class Nginx:
    """Debian's nginx with the stack's own config (deploy/nginx/), on a local port in
    front of the given instances instead of the compose services."""

    def __init__(self, workdir: Path, upstream_ports: list[int], media_dir: Path) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert Path(nginx).exists(), "nginx is missing: apt-get install nginx"
        self.binary = nginx
        self.port = free_port()
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        # Where nginx's workers (not root) can write, as /var/cache/nginx in the image.
        self.cache = Path(tempfile.mkdtemp(prefix="liveupdates-nginx-cache-"))
        self.cache.chmod(0o755)
        config = (DEPLOY / "nginx" / "nginx.conf").read_text()
        for docker, local in (
            ("listen 80;", f"listen 127.0.0.1:{self.port};"),
            ("alias /srv/media/;", f"alias {media_dir}/;"),
            ("/var/cache/nginx/liveupdates", str(self.cache)),
        ):
            assert docker in config, docker
            config = config.replace(docker, local)
        (self.dir / "nginx.conf").write_text(config)
        shutil.copy(DEPLOY / "nginx" / "microcache.conf", self.dir / "microcache.conf")
        # The shipped upstream's options (how failures are handled), for each local port.
        shipped = re.search(
            r"^server app:8000(.*);$", (DEPLOY / "nginx" / "upstream.conf").read_text(), re.M
        )
        assert shipped is not None
        (self.dir / "upstream.conf").write_text(
            "".join(f"server 127.0.0.1:{port}{shipped.group(1)};\n" for port in upstream_ports)
        )
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *flags: str, foreground: bool = False) -> list[str]:
        directives = f"pid {self.dir}/nginx.pid; error_log {self.dir}/error.log;"
        if foreground:
            directives += " daemon off;"
        conf = str(self.dir / "nginx.conf")
        return [self.binary, *flags, "-p", str(self.dir), "-c", conf, "-g", directives]

    def test(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t`: the configuration parses and every file it names is there."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(foreground=True))
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.cache, ignore_errors=True)


@contextlib.asynccontextmanager
async def on_loopback(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` (a WebSub hub, a push service…) on a free loopback port: its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def until(check: Callable[[], object], seconds: float = 15) -> None:
    """Wait for `check()` (a value, or an awaitable of one) to be true, failing the test
    after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await _value(check()):
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def _value(result: object) -> object:
    return await result if inspect.isawaitable(result) else result
