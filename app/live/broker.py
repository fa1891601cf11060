"""How instances tell each other about committed events: a doorbell, not a source of truth.

`memory://` is one process; `redis://` uses Redis pub/sub, which drops messages while a
connection is down. The hub turns a drop into a gap and fills it from the event log, and
after a reconnect it catches up every blog at once.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from app.config import is_redis
from app.ops import tasks
from app.ops.metrics import BROKER_RECONNECTS
from app.ops.outages import BROKER
from app.store.eventlog import LoggedEvent
from app.store.redis_client import redis_client

log = logging.getLogger("liveupdates.broker")

OnMessage = Callable[[LoggedEvent], None]
OnReconnect = Callable[[], Awaitable[None]]
# A notice for the newsroom's desks (app/live/desk.py): blog id, type, JSON. Never logged:
# on the wire, a message of offset 0.
OnNotice = Callable[[int, str, bytes], None]
NOTICE_OFFSET = 0

CHANNEL = "liveupdates:events"
OUTBOX_LIMIT = 10_000
# A path to Redis can go silent without an error (a partition): every call is bounded, and
# a subscription that hears nothing, not even the answer to its own ping, is made anew.
TIMEOUT_SECONDS = 2.0
SILENCE_SECONDS = 5.0


class Broker(Protocol):
    async def start(
        self, on_message: OnMessage, on_reconnect: OnReconnect, on_notice: OnNotice
    ) -> None: ...
    async def stop(self) -> None: ...
    def publish(self, event: LoggedEvent) -> None: ...
    def notify(self, blog_id: int, type_: str, data: bytes) -> None: ...
    async def ping(self) -> bool: ...


class MemoryBroker:
    """A single process: the hub already delivered locally, nobody else to tell."""

    async def start(
        self, on_message: OnMessage, on_reconnect: OnReconnect, on_notice: OnNotice
    ) -> None:
        pass

    async def stop(self) -> None:
        pass

    def publish(self, event: LoggedEvent) -> None:
        pass

    def notify(self, blog_id: int, type_: str, data: bytes) -> None:
        pass

    async def ping(self) -> bool:
        return True


class RedisBroker:
    """Redis pub/sub on one channel; each message is
    `<instance> <blog> <offset> <type>\\n<json>` (a message without the type, from an older
    instance, is read too); offset 0: a notice for the newsroom's desks."""

    def __init__(self, url: str, reconnect_seconds: float = 0.5) -> None:
        self.url = url
        self.instance = f"{os.getpid()}-{os.urandom(4).hex()}".encode()
        self.reconnect_seconds = reconnect_seconds
        self.reconnects = 0
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []
        self._pinger: redis.Redis | None = None

    async def start(
        self, on_message: OnMessage, on_reconnect: OnReconnect, on_notice: OnNotice
    ) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._on_notice = on_notice
        self._subscribed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listen"),
            asyncio.create_task(self._send(), name="redis-send"),
        ]
        # Serve even if Redis is down at start; readers are caught up once it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def stop(self) -> None:
        for task in self._tasks:
            await tasks.stop(task)
        if self._pinger is not None:
            await self._pinger.aclose()

    async def ping(self) -> bool:
        """Whether Redis answers now (for /readyz)."""
        if self._pinger is None:
            self._pinger = redis_client(self.url, 1)
        try:
            return bool(await self._pinger.ping())
        except (RedisError, OSError):
            return False

    def publish(self, event: LoggedEvent) -> None:
        self._send_soon(event.blog_id, event.offset, event.type, event.data)

    def notify(self, blog_id: int, type_: str, data: bytes) -> None:
        self._send_soon(blog_id, NOTICE_OFFSET, type_, data)

    def _send_soon(self, blog_id: int, offset: int, type_: str, data: bytes) -> None:
        message = b"%b %d %d %b\n%b" % (self.instance, blog_id, offset, type_.encode(), data)
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            # Redis has been away for a long while; other instances catch up from the log
            # (and desks re-read their questions when the subscription is back).
            log.warning("redis outbox full; dropping the doorbell for blog %d", blog_id)

    def _client(self) -> redis.Redis:
        return redis_client(self.url, TIMEOUT_SECONDS)

    async def _send(self) -> None:
        client = self._client()
        try:
            while True:
                tasks.raise_if_cancelled()
                message = await self._outbox.get()
                while True:
                    try:
                        await client.publish(CHANNEL, message)
                        BROKER.answered()
                        break
                    except (RedisError, OSError) as error:
                        BROKER.failed("publishing an event", error)
                        tasks.raise_if_cancelled()
                        await asyncio.sleep(self.reconnect_seconds)
        finally:
            await client.aclose()

    async def _listen(self) -> None:
        first = True
        loop = asyncio.get_running_loop()
        while True:
            client = self._client()
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    BROKER.answered()
                    if not first:
                        self.reconnects += 1
                        BROKER_RECONNECTS.inc()
                        log.info("redis: subscribed again; catching up from the event log")
                        try:
                            await self._on_reconnect()
                        except Exception:
                            log.warning("catch-up after reconnecting failed", exc_info=True)
                    first = False
                    heard = pinged = loop.time()
                    while True:
                        tasks.raise_if_cancelled()
                        message = await pubsub.get_message(timeout=1.0)
                        now = loop.time()
                        if message is not None:
                            heard = now
                            if message["type"] == "message":
                                self._dispatch(message["data"])
                        elif now - heard > SILENCE_SECONDS:
                            raise ConnectionError(f"no word from Redis in {now - heard:.0f} s")
                        elif now - heard > SILENCE_SECONDS / 2 and now - pinged > 1:
                            pinged = now
                            await pubsub.ping()
            except (RedisError, OSError) as error:
                BROKER.failed("the event subscription", error)
                first = False
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            tasks.raise_if_cancelled()
            await asyncio.sleep(self.reconnect_seconds)

    def _dispatch(self, message: bytes) -> None:
        head, _, data = message.partition(b"\n")
        try:
            instance, blog_id, offset, *kind = head.split(b" ")
            if instance != self.instance:
                type_ = kind[0].decode() if kind else orjson.loads(data)["type"]
                if int(offset) == NOTICE_OFFSET:
                    self._on_notice(int(blog_id), type_, data)
                else:
                    self._on_message(LoggedEvent(int(blog_id), int(offset), type_, data))
        except (ValueError, KeyError, orjson.JSONDecodeError):
            log.warning("redis: ignoring a malformed message")


def make_broker(url: str) -> Broker:
    if url.startswith("memory://"):
        return MemoryBroker()
    if is_redis(url):
        return RedisBroker(url)
    raise ValueError(f"BROKER_URL must be memory:// or redis://..., not {url!r}")
