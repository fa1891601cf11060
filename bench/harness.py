"""What the benchmarks share: our server on a fresh database, and swarms of readers."""

import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BIN = Path(sys.executable).parent


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def fresh_postgres(name: str) -> str:
    """An empty Postgres database `name` (dropped first if it is there): its DATABASE_URL."""
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def raise_file_limit() -> None:
    """As many open files as the hard limit allows; servers started later inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def swarm_process() -> None:
    """Set up a client process: all the files it may open, and uvloop when there is one."""
    raise_file_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


class Ours:
    """`liveupdates serve` on a database of its own, with an admin token."""

    def __init__(
        self,
        name: str,
        database_url: str | None = None,
        source: Path | None = None,
        **settings: str,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        # Another checkout of the code (a baseline to A/B against), run with this venv.
        self.command: list[str | Path] = [BIN / "liveupdates"]
        extra = {}
        if source is not None:
            # The command as that checkout names it (its modules may have moved since).
            scripts = tomllib.loads((source / "pyproject.toml").read_text())["project"]["scripts"]
            module, function = scripts["liveupdates"].split(":")
            self.command = [
                sys.executable,
                "-c",
                f"import sys; from {module} import {function}; sys.exit({function}())",
            ]
            extra = {"PYTHONPATH": str(source)}
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{self.workdir}/bench.db",
            "BROKER_URL": "memory://",
            # The load comes from few tokens and addresses: no abuse limits here.
            "POST_RATE_PER_MINUTE": "0",
            "WS_CONNECTIONS_PER_ADDRESS": "0",
            "READER_CONNECTS_PER_SECOND": "0",
            **{key.upper(): value for key, value in settings.items()},
            **extra,
        }
        self.cli("migrate")
        made = self.cli("token", "create", "--name", "Bench", "--role", "admin")
        self.token = made.stdout.strip().splitlines()[-1]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.closing: list[httpx.Client] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            env=self.env, cwd=self.workdir, capture_output=True, text=True, check=True,
        )  # fmt: skip

    def serve(
        self, port: int | None = None, workers: int = 1
    ) -> tuple[int, subprocess.Popen[bytes]]:
        port = port or free_port()
        process = subprocess.Popen(
            [*self.command, "serve", "--port", str(port), "--log-level", "warning",
             "--workers", str(workers)],
            env=self.env, cwd=self.workdir,
        )  # fmt: skip
        self.processes.append(process)
        wait_http(f"http://127.0.0.1:{port}/api/blogs")
        return port, process

    def client(self, port: int) -> httpx.Client:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        self.closing.append(client)
        return client

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    def close(self) -> None:
        for client in self.closing:
            client.close()
        for process in self.processes:
            self.stop(process)
        shutil.rmtree(self.workdir, ignore_errors=True)


class Swarms:
    """Reader swarms in client processes, each from its own 127.0.0.x source address."""

    def __init__(
        self,
        target: Callable[..., None],
        port: int,
        path: str,
        readers: int,
        processes: int,
        extra: tuple[object, ...] = (),
    ) -> None:
        ctx = mp.get_context("spawn")
        self.members: list[tuple[Any, Any, Any]] = []
        shares = [readers // processes + (i < readers % processes) for i in range(processes)]
        for i, share in enumerate(shares):
            commands, results = ctx.Queue(), ctx.Queue()
            process = ctx.Process(
                target=target,
                args=(
                    "127.0.0.1",
                    port,
                    path,
                    share,
                    f"127.0.0.{i + 2}",
                    commands,
                    results,
                    *extra,
                ),
                daemon=True,
            )
            process.start()
            self.members.append((process, commands, results))
        self.connected = sum(reply[1] for reply in self.collect(timeout=900))

    def send(self, *command: object) -> None:
        for _, commands, _ in self.members:
            commands.put(command)

    def collect(self, timeout: float = 120) -> list[Any]:
        return [results.get(timeout=timeout) for _, _, results in self.members]

    def ask(self, *command: object, timeout: float = 120) -> list[Any]:
        self.send(*command)
        return self.collect(timeout)

    def close(self) -> None:
        self.send("close")
        for process, _, _ in self.members:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def checkout(rev: str) -> Path:
    """A detached worktree of `rev` (a baseline for A/B runs); reused when it exists."""
    root = Path(__file__).resolve().parent.parent
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"liveupdates-{sha}"
    if not (path / "app").exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(path), sha],
            cwd=root, check=True, capture_output=True,
        )  # fmt: skip
    translations = path / "app" / "translations"
    if translations.exists():  # an install would compile them (hatch_build.py)
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "--quiet", "compile",
             "-d", str(translations), "-D", "messages client"],
            check=True,
        )  # fmt: skip
    return path
