"""Live delivery over WebSocket and SSE, against a real uvicorn server (and the ASGI fallback)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
import orjson
import pytest
import websockets
from fastapi import FastAPI
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from websockets.asyncio.client import ClientConnection, connect

from app.live import channel as channel_module
from app.live import joining as live_module
from app.live.readers import QueueReader, TransportReader
from app.services import services
from tests.conftest import LiveServer, StartServer, Tokens

Event = dict[str, Any]


class Api:
    def __init__(self, base_url: str, tokens: Tokens) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.tokens = tokens

    async def create_blog(self, slug: str = "live") -> Event:
        r = await self.client.post(
            "/api/blogs", json={"slug": slug, "title": slug}, headers=self.tokens.auth("admin")
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def post(self, body: str, slug: str = "live", **extra: object) -> Event:
        r = await self.client.post(
            f"/api/blogs/{slug}/entries",
            json={"body": body, **extra},
            headers=self.tokens.auth("editor"),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def patch(self, entry_id: int, slug: str = "live", **changes: object) -> httpx.Response:
        return await self.client.patch(
            f"/api/blogs/{slug}/entries/{entry_id}",
            json=changes,
            headers=self.tokens.auth("editor"),
        )

    async def delete(self, entry_id: int, slug: str = "live") -> httpx.Response:
        return await self.client.delete(
            f"/api/blogs/{slug}/entries/{entry_id}", headers=self.tokens.auth("editor")
        )


@pytest.fixture
async def server(start_server: StartServer) -> LiveServer:
    return await start_server()


@pytest.fixture
async def api(server: LiveServer, tokens: Tokens) -> AsyncIterator[Api]:
    api = Api(server.url, tokens)
    await api.create_blog()
    yield api
    await api.client.aclose()


class Socket(Protocol):
    async def next(self, timeout: float = 5) -> Event: ...


class WebsocketsSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def next(self, timeout: float = 5) -> Event:
        return dict(orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout)))


@asynccontextmanager
async def reader(
    server: LiveServer, query: str = "", slug: str = "live"
) -> AsyncIterator[WebsocketsSocket]:
    async with connect(f"{server.ws_url}/ws/blogs/{slug}{query}") as ws:
        yield WebsocketsSocket(ws)


async def events_until(socket: Socket, offset: int, timeout: float = 10) -> list[Event]:
    events: list[Event] = []
    while not events or events[-1]["offset"] < offset:
        events.append(await socket.next(timeout))
    return events


async def test_reader_gets_changes_in_offset_order(server: LiveServer, api: Api) -> None:
    async with reader(server) as socket:
        hello = await socket.next()
        assert hello["type"] == "hello"
        assert hello["offset"] == 0
        assert hello["blog"]["slug"] == "live"

        created = await api.post("Polls open")
        updated = (await api.patch(created["id"], body="Polls closed")).json()
        assert (await api.delete(created["id"])).status_code == 204

        assert await events_until(socket, 3) == [
            {"type": "entry.created", "offset": 1, "entry": created},
            {"type": "entry.updated", "offset": 2, "entry": updated},
            {"type": "entry.deleted", "offset": 3, "entry_id": created["id"]},
        ]
    # uvicorn's transport was reachable, so the fast path served this reader.
    assert any(isinstance(r, TransportReader) for r in _readers_seen)


_readers_seen: list[object] = []


@pytest.fixture(autouse=True)
def _record_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    _readers_seen.clear()
    for cls in (TransportReader, QueueReader):
        original = cls.__init__

        def init(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            _readers_seen.append(self)

        monkeypatch.setattr(cls, "__init__", init)


async def test_blog_changes_and_ending_reach_readers(server: LiveServer, api: Api) -> None:
    async with reader(server) as socket:
        await socket.next()
        r = await api.client.patch(
            "/api/blogs/live", json={"status": "ended"}, headers=api.tokens.auth("admin")
        )
        event = await socket.next()
        assert event == {"type": "blog.updated", "offset": 1, "blog": r.json()}
        assert event["blog"]["status"] == "ended"


async def test_resume_gets_exactly_what_was_missed(server: LiveServer, api: Api) -> None:
    await api.post("before")
    async with reader(server) as socket:
        hello = await socket.next()
        assert hello["offset"] == 1
    posted = [await api.post(f"missed {n}") for n in range(50)]
    async with reader(server, "?since=1") as socket:
        assert (await socket.next())["offset"] == 51
        missed = await events_until(socket, 51)
        assert [e["offset"] for e in missed] == list(range(2, 52))
        assert [e["entry"] for e in missed] == posted
        live = await api.post("live again")
        assert await socket.next() == {"type": "entry.created", "offset": 52, "entry": live}


async def test_replay_then_live_under_concurrent_posting(
    server: LiveServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_module, "REPLAY_PAGE", 7)  # many replay pages
    monkeypatch.setattr(channel_module, "HISTORY", 5)  # and most of them from the log
    for n in range(30):
        await api.post(f"early {n}")
    total = 30 + 200

    async def one_reader(since: int) -> list[int]:
        async with reader(server, f"?since={since}") as socket:
            hello = await socket.next()
            assert hello["type"] == "hello"
            return [e["offset"] for e in await events_until(socket, total, timeout=30)]

    readers = [asyncio.create_task(one_reader(since)) for since in (0, 3, 10, 29, 30)]
    # 20 reporters at once: 200 posts queued on one blog's lock all together would wait past
    # the statement bound on a slow machine (503, as the bound is meant to answer).
    reporters = asyncio.Semaphore(20)

    async def post(n: int) -> None:
        async with reporters:
            await api.post(f"during {n}")

    await asyncio.gather(*(post(n) for n in range(200)))
    results = await asyncio.gather(*readers)
    for since, offsets in zip((0, 3, 10, 29, 30), results, strict=True):
        assert offsets == list(range(since + 1, total + 1))


async def test_rolled_back_changes_are_never_sent(server: LiveServer, api: Api) -> None:
    entry = await api.post("first")
    async with reader(server) as socket:
        await socket.next()
        stale = await api.client.patch(
            f"/api/blogs/live/entries/{entry['id']}",
            json={"body": "x"},
            headers={**api.tokens.auth("editor"), "If-Match": '"7"'},
        )
        assert stale.status_code == 412
        forbidden = await api.client.patch(
            f"/api/blogs/live/entries/{entry['id']}",
            json={"body": "x"},
            headers=api.tokens.auth("other_reporter"),
        )
        assert forbidden.status_code == 403
        second = await api.post("second")
        assert await socket.next() == {"type": "entry.created", "offset": 2, "entry": second}


async def test_bad_requests_get_clear_close_codes(server: LiveServer, api: Api) -> None:
    async def close_code(path: str) -> tuple[int, str]:
        async with connect(f"{server.ws_url}{path}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code, closed.value.rcvd.reason

    assert (await close_code("/ws/blogs/nope"))[0] == 4404
    for since in ("abc", "-1", "1.5", "99"):
        code, reason = await close_code(f"/ws/blogs/live?since={since}")
        assert code == 4400
        assert "since" in reason


async def test_cross_site_upgrade_is_refused(start_server: StartServer, tokens: Tokens) -> None:
    server = await start_server(allowed_origins=["https://news.example"])
    api = Api(server.url, tokens)
    await api.create_blog()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{server.ws_url}/ws/blogs/live", origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    for origin in ("https://news.example", f"http://127.0.0.1:{server.port}"):
        async with connect(f"{server.ws_url}/ws/blogs/live", origin=origin) as ws:  # type: ignore[arg-type]
            assert orjson.loads(await ws.recv())["type"] == "hello"
    await api.client.aclose()


async def test_heartbeat_drops_a_reader_that_stopped_answering(
    start_server: StartServer, tokens: Tokens
) -> None:
    server = await start_server(heartbeat_seconds=0.3)
    api = Api(server.url, tokens)
    await api.create_blog()
    # A client that completes the handshake and then goes silent: no pongs.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"GET /ws/blogs/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    received = b""
    try:
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            if not chunk:
                break  # the server closed the connection
            received += chunk
    finally:
        sock.close()
        await api.client.aclose()
    assert received.startswith(b"HTTP/1.1 101")
    assert b"\x89" in received  # it was pinged before being dropped


async def test_slow_reader_is_dropped_and_others_keep_up(
    start_server: StartServer, tokens: Tokens
) -> None:
    server = await start_server(reader_buffer_bytes=64 * 1024)
    api = Api(server.url, tokens)
    await api.create_blog()
    body = "x" * 19_000  # about 38 KB an event, with its HTML
    # A reader that stops reading: the client stops taking frames off the socket.
    # (Uncompressed: this repetitive text would shrink to nothing.)
    slow_url = f"{server.ws_url}/ws/blogs/live"
    async with connect(slow_url, max_queue=1, compression=None) as slow:
        async with reader(server) as fast:
            await fast.next()
            for n in range(1, 401):
                await api.post(f"{n} {body}")
                event = await fast.next()
                assert event["offset"] == n  # the others keep getting every event, in order
                if any(getattr(r, "dropped", False) for r in _readers_seen):
                    break
            assert any(getattr(r, "dropped", False) for r in _readers_seen), "never dropped"
        offsets = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                message = orjson.loads(await asyncio.wait_for(slow.recv(), 5))
                offsets.append(message["offset"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    # It resumes from the last offset it saw and gets the rest.
    last = offsets[-1]
    async with reader(server, f"?since={last}") as again:
        hello = await again.next()
        rest = await events_until(again, hello["offset"])
        assert [e["offset"] for e in rest] == list(range(last + 1, hello["offset"] + 1))
    await api.client.aclose()


@pytest.mark.parametrize("with_epoch", [True, False], ids=["epoch", "old-client"])
async def test_sse_resumes_with_last_event_id(
    server: LiveServer, api: Api, with_epoch: bool
) -> None:
    """The id of each event is `<offset>@<epoch>`; a browser resumes with it, and an old
    client's bare offset resumes too."""
    posted = [await api.post(f"entry {n}") for n in range(4)]
    epoch = (await api.client.get("/api/blogs/live")).json()["epoch"]
    last_id = f"2@{epoch}" if with_epoch else "2"
    async with api.client.stream(
        "GET", "/blogs/live/events", headers={"Last-Event-ID": last_id}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()

        async def next_event() -> tuple[str | None, Event]:
            event_id = None
            while True:
                line = await asyncio.wait_for(anext(lines), 5)
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    return event_id, orjson.loads(line[6:])

        _, hello = await next_event()
        assert hello["type"] == "hello" and hello["offset"] == 4 and hello["epoch"] == epoch
        assert await next_event() == (
            f"3@{epoch}",
            {"type": "entry.created", "offset": 3, "entry": posted[2]},
        )
        assert await next_event() == (
            f"4@{epoch}",
            {"type": "entry.created", "offset": 4, "entry": posted[3]},
        )
        live = await api.post("live")
        assert await next_event() == (
            f"5@{epoch}",
            {"type": "entry.created", "offset": 5, "entry": live},
        )


async def test_open_sse_streams_hold_no_database_connection(server: LiveServer, api: Api) -> None:
    pool_limit = 5 + 10  # SQLAlchemy's default queue pool for SQLite files; more for Postgres
    streams = 40 if pool_limit < 40 else pool_limit + 10
    async with contextlib.AsyncExitStack() as stack:
        lines = []
        for _ in range(streams):
            response = await stack.enter_async_context(
                api.client.stream("GET", "/blogs/live/events")
            )
            lines.append(response.aiter_lines())
            assert (await asyncio.wait_for(anext(lines[-1]), 5)).startswith("retry:")
        entry = await asyncio.wait_for(api.post("still served"), 10)
        for stream in lines:
            while not (line := await asyncio.wait_for(anext(stream), 5)).startswith("id: "):
                pass
            assert line.startswith("id: 1@")
        assert entry["id"]


async def test_sse_bad_offsets_are_400(server: LiveServer, api: Api) -> None:
    for params, headers in (
        ({"since": "x"}, {}),
        ({}, {"Last-Event-ID": "-4"}),
        ({"since": "9"}, {}),
    ):
        r = await api.client.get("/blogs/live/events", params=params, headers=headers)
        assert r.status_code == 400
    assert (await api.client.get("/blogs/nope/events")).status_code == 404


async def test_shutdown_tells_readers_to_reconnect(server: LiveServer, api: Api) -> None:
    async with connect(f"{server.ws_url}/ws/blogs/live") as ws:
        assert orjson.loads(await ws.recv())["type"] == "hello"
        server.server.should_exit = True
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


async def test_reader_protocol_details(server: LiveServer, api: Api) -> None:
    hub = services(server.app).hub
    async with connect(f"{server.ws_url}/ws/blogs/live") as ws:
        await ws.recv()
        assert hub.reader_count() == 1
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)  # the server answers pings
        entry = await api.post("delivered")
        assert orjson.loads(await ws.recv())["entry"] == entry
    # A clean close from the reader is answered, and the reader leaves the hub.
    assert ws.close_code == 1000
    for _ in range(100):
        if hub.reader_count() == 0:
            break
        await asyncio.sleep(0.01)
    assert hub.reader_count() == 0

    # Readers have nothing to say: a message ends the connection, compressed or not.
    for compression in ("deflate", None):
        async with connect(f"{server.ws_url}/ws/blogs/live", compression=compression) as ws:
            await ws.recv()
            await ws.send("hello, server")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003

    async with connect(f"{server.ws_url}/ws/blogs/live", max_size=None) as ws:
        await ws.recv()
        await ws.send("x" * 10_000)  # refused from its header, before it is read
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    # There are no other WebSockets.
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{server.ws_url}/ws/elsewhere"):
            pass
    assert refused.value.response.status_code == 404


async def test_under_uvicorns_own_websockets_frames_still_go_to_the_transport(
    start_server: StartServer, tokens: Tokens
) -> None:
    """Served as plain ASGI (another `--ws`), readers still get the transport fast path."""
    server = await start_server(uvicorn_overrides={"http": "httptools"})
    api = Api(server.url, tokens)
    await api.create_blog()
    first = await api.post("before")
    async with reader(server, "?since=0") as socket:
        assert (await socket.next())["type"] == "hello"
        assert (await socket.next())["entry"] == first
        second = await api.post("after")
        assert await socket.next() == {"type": "entry.created", "offset": 2, "entry": second}
    assert any(isinstance(r, TransportReader) for r in _readers_seen)
    await api.client.aclose()


# --- the ASGI fallback: no transport to write to, a queue and `await send` instead ---------


async def test_fallback_path_delivers_in_order_and_resumes(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    await client.post(
        "/api/blogs", json={"slug": "live", "title": "Live"}, headers=tokens.auth("admin")
    )
    first = (
        await client.post(
            "/api/blogs/live/entries", json={"body": "one"}, headers=tokens.auth("editor")
        )
    ).json()
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(app), base_url="http://testserver"
    ) as ws_client:
        async with aconnect_ws("/ws/blogs/live?since=0", ws_client) as ws:
            assert (await ws.receive_json())["type"] == "hello"
            assert await ws.receive_json() == {"type": "entry.created", "offset": 1, "entry": first}
            posted = [
                (
                    await client.post(
                        "/api/blogs/live/entries",
                        json={"body": f"n{n}"},
                        headers=tokens.auth("editor"),
                    )
                ).json()
                for n in range(5)
            ]
            for offset, entry in enumerate(posted, start=2):
                event = await asyncio.wait_for(ws.receive_json(), 5)
                assert event == {"type": "entry.created", "offset": offset, "entry": entry}
    assert any(isinstance(r, QueueReader) for r in _readers_seen)
    assert not any(isinstance(r, TransportReader) for r in _readers_seen)


async def test_websockets_per_address_are_limited(
    start_server: StartServer, tokens: Tokens
) -> None:
    server = await start_server(ws_connections_per_address=2, trusted_proxies=["127.0.0.1"])
    api = Api(server.url, tokens)
    await api.create_blog()
    async with reader(server), reader(server):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with reader(server):
                pass
        assert refused.value.response.status_code == 429
        # Behind a trusted proxy, the client is the address it forwards for.
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        async with connect(f"{server.ws_url}/ws/blogs/live", additional_headers=forwarded) as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"
    async with reader(server) as again:  # closed ones no longer count
        assert (await again.next())["type"] == "hello"
    await api.client.aclose()
