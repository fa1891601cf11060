"""A SIGTERM refuses nothing already connected: connections the kernel accepted before
it (their requests waiting in the listening socket's backlog) are answered, so a rolling
restart without a proxy in front loses no post (app/live/edge/drain.py)."""

import asyncio
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import Tokens
from tests.servers import AppServer

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


async def test_posts_waiting_in_the_backlog_at_sigterm_are_answered(
    settings: Settings, tokens: Tokens, tmp_path: Path, clean_db: None
) -> None:
    server = AppServer(settings, tmp_path, shutdown_grace_seconds="15")
    await server.start()
    queued = 50
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            r = await client.post("/api/blogs", json={"slug": "calm", "title": "Calm"},
                                  headers=tokens.auth("admin"))  # fmt: skip
            assert r.status_code == 201
        assert server.process is not None
        # The process is stopped: the kernel completes each handshake and queues it, with
        # its request, in the backlog. Then SIGTERM, and the process runs again.
        os.kill(server.process.pid, signal.SIGSTOP)
        sockets = []
        for n in range(queued):
            sock = socket.create_connection(("127.0.0.1", server.port))
            body = b'{"body": "queued %d"}' % n
            sock.sendall(
                b"POST /api/blogs/calm/entries HTTP/1.1\r\nHost: x\r\n"
                + b"Authorization: Bearer %b\r\n" % tokens.editor.encode()
                + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                % (len(body), body)
            )
            sockets.append(sock)
        os.kill(server.process.pid, signal.SIGTERM)
        os.kill(server.process.pid, signal.SIGCONT)
        answers = []
        for sock in sockets:
            sock.settimeout(20)
            try:
                head = await asyncio.to_thread(sock.recv, 64)
                answers.append(head.split(b" ")[1].decode() if head else "closed")
            except ConnectionResetError:
                answers.append("reset")
            finally:
                sock.close()
        await asyncio.to_thread(server.process.wait, 30)
        assert answers == ["201"] * queued
    finally:
        server.stop()
    # Every one acknowledged is stored.
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            page = (await client.get("/api/blogs/calm/entries", params={"limit": 100})).json()
        assert sorted(e["body"] for e in page["entries"]) == sorted(
            f"queued {n}" for n in range(queued)
        )
    finally:
        server.stop()
