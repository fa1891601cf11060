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

        wire = {**env, "LIVEUPDATES_TOKEN": token, "LIVEUPDATES_URL": base}
        posted = subprocess.run(
            [LIVEUPDATES, "post", "--blog", "cli", "--headline", "Wire", "--key-event", "-"],
            input="From **the wire**\n", env=wire, cwd=cwd, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert posted.returncode == 0, posted.stderr
        assert posted.stdout.startswith("published entry ")
        latest = httpx.get(f"{base}/api/blogs/cli/entries").json()["entries"][0]
        assert (latest["headline"], latest["key_event"]) == ("Wire", True)
        assert latest["html"] == "<p>From <strong>the wire</strong></p>"

        listed = run(["token", "list"], env, cwd)
        assert "admin" in listed.stdout and "Desk" in listed.stdout
        assert token not in listed.stdout
        token_id = listed.stdout.split()[0]
        assert run(["token", "revoke", token_id], env, cwd).returncode == 0
        refused = run(["post", "--blog", "cli", "Too late"], wire, cwd)
        assert refused.returncode == 1
        assert "401" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_post_waits_for_a_server_that_is_starting(workdir: tuple[Path, dict[str, str]]) -> None:
    """The post is retried until the server answers, with one Idempotency-Key: one entry."""
    cwd, env = workdir
    demo = run(["demo"], env, cwd)  # the demo blog, and an editor token
    plain = demo.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    wire = {**env, "LIVEUPDATES_TOKEN": plain, "LIVEUPDATES_URL": base}
    poster = subprocess.Popen(
        [LIVEUPDATES, "post", "--blog", "demo", "Before the server"],
        env=wire, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.0)  # the first attempts find nobody listening
    server = subprocess.Popen(
        [LIVEUPDATES, "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=cwd
    )
    try:
        out, err = poster.communicate(timeout=60)
        entries = httpx.get(f"{base}/api/blogs/demo/entries", params={"limit": 100}).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert poster.returncode == 0, err
    bodies = [e["body"] for e in entries["entries"]]
    assert bodies.count("Before the server") == 1
