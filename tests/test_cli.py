"""The `liveupdates` command, run as a newsroom would run it: a real server process."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

LIVEUPDATES = str(Path(sys.executable).with_name("liveupdates"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEUPDATES, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "BROKER_URL"}}
    yield tmp_path, env


def test_serve_token_and_post(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    port = free_port()
    log = cwd / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [LIVEUPDATES, "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/blogs", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        # The default database is a SQLite file under ./data/, made by the migrations.
        assert (cwd / "data" / "liveupdates.db").exists()

        created = run(["token", "create", "--name", "Desk", "--role", "admin"], env, cwd)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("lu_")
        headers = {"Authorization": f"Bearer {token}"}

        r = httpx.post(f"{base}/api/blogs", json={"slug": "cli", "title": "CLI"}, headers=headers)
        assert r.status_code == 201
        r = httpx.post(f"{base}/api/blogs/cli/entries", json={"body": "From curl"}, headers=headers)
        assert r.status_code == 201
        entries = httpx.get(f"{base}/api/blogs/cli/entries").json()["entries"]
        assert [e["body"] for e in entries] == ["From curl"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_demo_is_idempotent(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    first = run(["demo"], env, cwd)
    assert first.returncode == 0, first.stderr
    second = run(["demo"], env, cwd)
    assert second.returncode == 0, second.stderr
    token_1 = first.stdout.strip().splitlines()[-1]
    token_2 = second.stdout.strip().splitlines()[-1]
    assert token_1.startswith("lu_") and token_2.startswith("lu_") and token_1 != token_2

    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3; c = sqlite3.connect('data/liveupdates.db');"
            "print(c.execute('select count(*) from blog').fetchone()[0],"
            " c.execute('select count(*) from entry').fetchone()[0])",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    blogs, entries = map(int, check.stdout.split())
    assert blogs == 1
    assert entries >= 3


def test_several_workers_need_a_broker(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    result = run(["serve", "--workers", "2"], env, cwd)
    assert result.returncode == 2
    assert "BROKER_URL" in result.stderr


def test_token_roles_are_checked(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    result = run(["token", "create", "--name", "X", "--role", "king"], env, cwd)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
