"""`liveupdates serve` sends alerts from a process of its own: a key event reaches the push
service (on loopback: it checks the signature and decrypts); /metrics counts what was sent;
stopping the server stops the sender."""

import asyncio
import os
from pathlib import Path

import httpx

from app.config import Settings
from tests.conftest import Tokens
from tests.live.test_push import PushService, service
from tests.servers import AppServer, run_cli, until

__all__ = ["service"]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


async def test_the_served_sender_alerts_from_its_own_process(
    settings: Settings, service: PushService, tmp_path: Path, tokens: Tokens, clean_db: None
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = AppServer(
        settings,
        tmp_path,
        push_service_hosts="127.0.0.1",
        prometheus_multiproc_dir=str(metrics_dir),  # one worker: the sender counts there too
    )
    try:
        await server.start()
        assert server.process is not None
        pid = server.process.pid

        def lowered() -> list[int]:
            return [c for c in children(pid) if os.getpriority(os.PRIO_PROCESS, c) > 0]

        await until(lowered, seconds=20)  # the sender: a process of its own, yielding the CPU
        sender = lowered()
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.post("/api/blogs", json={"slug": "vote", "title": "Vote 2030"},
                              headers=tokens.auth("admin"))  # fmt: skip
            service.server_key = (await client.get("/api/push/key")).json()["public_key"]
            made = run_cli(settings.database_url, "vapid")  # the pair made at the first start
            assert made.stdout.strip().splitlines()[-1] == service.server_key
            reader = service.subscriber()
            assert (
                await client.post("/api/blogs/vote/push", json=reader.json())
            ).status_code == 201
            await client.post("/api/blogs/vote/entries",
                              json={"body": "Polls closed", "key_event": True},
                              headers=tokens.auth("editor"))  # fmt: skip
            await until(lambda: service.total() == 1)
            assert service.problems == []
            await asyncio.sleep(0.5)
            metrics = (await client.get("/metrics")).text
            assert 'liveupdates_push_notifications_total{result="sent"} 1.0' in metrics
    finally:
        server.stop()

    def gone() -> bool:
        return not any(p in children_any() for p in sender)

    await until(gone, seconds=15)


def children_any() -> set[int]:
    """Processes alive (not zombies)."""
    alive = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(int(entry.name))
    return alive
