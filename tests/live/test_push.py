"""Web Push against a push service on loopback that does what real ones do: it checks each
message's VAPID signature (RFC 8292) and decrypts it with the subscriber's keys (RFC 8291).
Key events and a blog's end reach each subscriber once, across instances; non-key entries
reach no one; a send cut before any answer is tried again; a subscription the service says
is gone is forgotten; bad subscriptions are refused and kept nowhere."""

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain.models import PushSubscription
from app.services import services
from app.store.db import Database
from tests.conftest import StartServer, Tokens
from tests.servers import on_loopback, until


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Subscriber:
    """A browser's side of a subscription: the keys a message is encrypted to."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def json(self) -> dict[str, object]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}  # fmt: skip


@dataclass
class PushService:
    url: str = ""
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    server_key: str = ""  # the app's public VAPID key, once known

    def subscriber(self) -> Subscriber:
        name = secrets.token_hex(6)
        found = self.subscribers[name] = Subscriber(f"{self.url}/push/{name}")
        return found

    async def take(self, request: Request) -> Response:
        name = request.path_params["name"]
        auth = request.headers.get("authorization", "")
        try:
            assert Vapid02.verify(auth), "the VAPID signature does not verify"
            parts = dict(p.split("=", 1) for p in auth.split(" ", 1)[1].split(","))
            assert parts["k"] == self.server_key, "signed with another key than the server's"
            claims = json.loads(base64.urlsafe_b64decode(parts["t"].split(".")[1] + "=="))
            assert claims["aud"] == self.url, claims
            assert claims["exp"] > time.time() and claims["sub"].startswith(("mailto:", "https:"))
            assert request.headers["content-encoding"] == "aes128gcm"
            assert int(request.headers["ttl"]) > 0
            subscriber = self.subscribers[name]
            plain = http_ece.decrypt(
                await request.body(), private_key=subscriber.key,
                auth_secret=subscriber.auth, version="aes128gcm",
            )  # fmt: skip
        except Exception as problem:  # a test fails on any
            self.problems.append(f"{type(problem).__name__}: {problem}")
            return Response(status_code=400)
        self.received.setdefault(name, []).append(json.loads(plain))
        return Response(status_code=410 if name in self.gone else 201)

    def total(self) -> int:
        return sum(len(messages) for messages in self.received.values())


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    found = PushService()
    routes = [Route("/push/{name}", found.take, methods=["POST"])]
    async with on_loopback(Starlette(routes=routes)) as url:
        found.url = url
        yield found


async def prepare(client: httpx.AsyncClient, service: PushService, tokens: Tokens,
                  language: str = "en") -> None:  # fmt: skip
    made = await client.post("/api/blogs", json={"slug": "vote", "title": "Vote 2030",
                             "language": language}, headers=tokens.auth("admin"))  # fmt: skip
    assert made.status_code == 201
    service.server_key = (await client.get("/api/push/key")).json()["public_key"]


async def subscribed(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(PushSubscription)) or 0)


async def subscribed_are(db: Database, count: int) -> bool:
    return await subscribed(db) == count


async def test_key_events_and_the_end_reach_each_subscriber_once(
    start_server: StartServer, service: PushService, tokens: Tokens
) -> None:
    server = await start_server(push_service_hosts=["127.0.0.1"])
    async with httpx.AsyncClient(base_url=server.url) as client:
        await prepare(client, service, tokens, language="ru")
        readers = [service.subscriber() for _ in range(3)]
        for reader in readers:
            answer = await client.post("/api/blogs/vote/push", json=reader.json())
            assert answer.status_code == 201, answer.text
        again = await client.post("/api/blogs/vote/push", json=readers[0].json())
        assert again.status_code == 200  # kept once
        gone = readers[2].endpoint.rsplit("/", 1)[1]
        service.gone.add(gone)
        await client.post("/api/blogs/vote/entries", json={"body": "Turnout at noon: 31%"},
                          headers=tokens.auth("editor"))  # fmt: skip
        key = await client.post(
            "/api/blogs/vote/entries",
            json={"headline": "Polls have closed", "body": "Counting begins.", "key_event": True},
            headers=tokens.auth("editor"),
        )
        entry_id = key.json()["id"]
        await until(lambda: service.total() >= 3)
        assert service.problems == []
        for reader in readers:
            [message] = service.received[reader.endpoint.rsplit("/", 1)[1]]
            assert message == {"title": "Vote 2030", "body": "Polls have closed",
                               "url": f"/blogs/vote/entries/{entry_id}",
                               "tag": f"vote/{entry_id}"}  # fmt: skip
        db = services(server.app).db
        await until(lambda: service.total() == 3)
        # The one its service called gone is forgotten (once the sender has its answer).
        await until(lambda: subscribed_are(db, 2), seconds=5)
        # An edit that makes an entry a key event tells them too; the blog's end, last.
        plain = await client.post("/api/blogs/vote/entries", json={"body": "A queue at 6pm"},
                                  headers=tokens.auth("editor"))  # fmt: skip
        await client.patch(f"/api/blogs/vote/entries/{plain.json()['id']}",
                           json={"key_event": True}, headers=tokens.auth("editor"))  # fmt: skip
        await client.patch("/api/blogs/vote", json={"status": "ended"},
                           headers=tokens.auth("admin"))  # fmt: skip
        await until(lambda: service.total() == 3 + 2 * 2)
        last = service.received[readers[0].endpoint.rsplit("/", 1)[1]][-1]
        assert last == {"title": "Vote 2030", "body": "Трансляция завершена.",
                        "url": "/blogs/vote", "tag": "vote/end"}  # fmt: skip
        ended = await client.post("/api/blogs/vote/push", json=service.subscriber().json())
        assert ended.status_code == 409
        await asyncio.sleep(1.5)
        assert service.total() == 7 and service.problems == []


async def test_two_instances_send_each_notification_once(
    start_server: StartServer, service: PushService, tokens: Tokens
) -> None:
    first = await start_server(push_service_hosts=["127.0.0.1"])
    second = await start_server(push_service_hosts=["127.0.0.1"])
    async with (
        httpx.AsyncClient(base_url=first.url) as client,
        httpx.AsyncClient(base_url=second.url) as other,
    ):
        await prepare(client, service, tokens)
        readers = [service.subscriber() for _ in range(1_100)]  # three chunks
        for n, reader in enumerate(readers):
            answer = await (client if n % 2 else other).post(
                "/api/blogs/vote/push", json=reader.json()
            )
            assert answer.status_code == 201
        await client.post("/api/blogs/vote/entries", json={"body": "Result", "key_event": True},
                          headers=tokens.auth("editor"))  # fmt: skip
        await until(lambda: service.total() >= len(readers), seconds=60)
        await asyncio.sleep(1.5)
        assert service.problems == []
        assert service.total() == len(readers)
        assert all(len(got) == 1 for got in service.received.values())


@dataclass
class CuttingFront:
    """In front of a push service: cuts the first `cuts` connections as their request
    arrives, unanswered (reset, then closed, in turn), as a service does that closes an
    idle keep-alive connection just as it is reused; passes the rest through."""

    service_port: int
    cuts: int
    cut: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read(65536)
        if self.cut < self.cuts:
            self.cut += 1
            if self.cut % 2:
                writer.transport.abort()
            else:
                writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.service_port)
        up_writer.write(request)

        async def pipe(source: asyncio.StreamReader, to: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                to.write(data)
                await to.drain()
            to.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)  # fmt: skip


async def test_a_send_cut_before_any_answer_is_tried_again(
    start_server: StartServer, service: PushService, tokens: Tokens
) -> None:
    front = CuttingFront(int(service.url.rsplit(":", 1)[1]), cuts=2)
    listening = await asyncio.start_server(front.handle, "127.0.0.1", 0)
    service.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    server = await start_server(push_service_hosts=["127.0.0.1"])
    async with listening, httpx.AsyncClient(base_url=server.url) as client:
        await prepare(client, service, tokens)
        readers = [service.subscriber() for _ in range(3)]
        for reader in readers:
            assert (await client.post("/api/blogs/vote/push", json=reader.json())).is_success
        await client.post("/api/blogs/vote/entries", json={"body": "Result", "key_event": True},
                          headers=tokens.auth("editor"))  # fmt: skip
        await until(lambda: service.total() >= len(readers))
        await asyncio.sleep(1.5)
        assert front.cut == 2
        assert service.problems == []
        assert sorted(len(got) for got in service.received.values()) == [1, 1, 1]


async def test_bad_subscriptions_are_refused_and_kept_nowhere(
    start_server: StartServer, service: PushService, tokens: Tokens
) -> None:
    server = await start_server(push_service_hosts=["127.0.0.1"])
    async with httpx.AsyncClient(base_url=server.url) as client:
        await prepare(client, service, tokens)
        good = service.subscriber().json()
        keys = good["keys"]
        assert isinstance(keys, dict)
        for bad in [
            {**good, "endpoint": "https://attacker.example/collect"},
            {**good, "endpoint": "http://fcm.googleapis.com/fcm/send/x"},
            {**good, "endpoint": "ftp://127.0.0.1/x"},
            {**good, "endpoint": "http://[::1"},
            {**good, "endpoint": "http://127.0.0.1:99999/x"},
            {**good, "keys": {**keys, "p256dh": b64(b"\x04" + b"\x01" * 64)}},
            {**good, "keys": {**keys, "auth": b64(b"short")}},
            {**good, "keys": {**keys, "auth": "!!!"}},
            {**good, "endpoint": "x" * 2000},
            {**good, "endpoint": f"{good['endpoint']}\x00"},  # Postgres text holds no NUL
            {"endpoint": good["endpoint"]},
            {**good, "extra": 1},
        ]:
            answer = await client.post("/api/blogs/vote/push", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
        assert (await client.post("/api/blogs/nope/push", json=good)).status_code == 404
        assert await subscribed(services(server.app).db) == 0
        unheard = await client.request("DELETE", "/api/blogs/vote/push",
                                       json={"endpoint": "\x00\U000c634f"})  # fmt: skip
        assert unheard.status_code == 422, unheard.text
        assert (await client.post("/api/blogs/vote/push", json=good)).status_code == 201
        gone = await client.request("DELETE", "/api/blogs/vote/push",
                                    json={"endpoint": good["endpoint"]})  # fmt: skip
        assert gone.status_code == 204
        assert await subscribed(services(server.app).db) == 0


async def test_subscriptions_from_one_address_are_capped(
    start_server: StartServer, service: PushService, tokens: Tokens
) -> None:
    server = await start_server(
        push_service_hosts=["127.0.0.1"], push_subscribes_per_address_per_hour=2
    )
    async with httpx.AsyncClient(base_url=server.url) as client:
        await prepare(client, service, tokens)
        for _ in range(2):
            answer = await client.post("/api/blogs/vote/push", json=service.subscriber().json())
            assert answer.status_code == 201
        refused = await client.post("/api/blogs/vote/push", json=service.subscriber().json())
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert await subscribed(services(server.app).db) == 2
