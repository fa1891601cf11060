"""How instances tell each other about committed events: a doorbell, not a source of truth.

`memory://` is one process; `redis://` uses Redis pub/sub, `redis+cluster://` a Redis
Cluster's sharded pub/sub (SPUBLISH/SSUBSCRIBE: each blog's channel lives on the shard that
owns its slot, so no node carries every message). Each blog has a channel of its own, and
an instance listens only to the blogs it has readers (or newsroom desks) for: the hub
`watch`es a blog when its first reader comes and `unwatch`es it when the last goes.

Pub/sub drops messages while a connection is down, or while a shard fails over. The hub
turns a drop into a gap and fills it from the event log; after a reconnect it catches up
every blog at once, and it catches up periodically anyway.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from redis.exceptions import RedisError

from app.config import is_redis
from app.ops import tasks
from app.ops.metrics import BROKER_MESSAGES, BROKER_RECONNECTS, BROKER_SUBSCRIPTIONS
from app.ops.outages import BROKER
from app.store.eventlog import LoggedEvent
from app.store.redis_client import is_cluster, redis_client

log = logging.getLogger("liveupdates.broker")

OnMessage = Callable[[LoggedEvent], None]
OnReconnect = Callable[[], Awaitable[None]]
# A notice for the newsroom's desks (app/live/desk.py): blog id, type, JSON. Never logged:
# on the wire, a message of offset 0.
OnNotice = Callable[[int, str, bytes], None]
NOTICE_OFFSET = 0

PREFIX = "liveupdates:blog:"
# Always listened to, so that the subscription is there (and answers pings) with no blog.
ALWAYS = "liveupdates:instances"
OUTBOX_LIMIT = 10_000
# A path to Redis can go silent without an error (a partition): every call is bounded, and
# a subscription that hears nothing, not even the answer to its own ping, is made anew.
TIMEOUT_SECONDS = 2.0
SILENCE_SECONDS = 5.0
# A sharded subscription polls each shard in turn, for this long at most each round.
SHARD_POLL_SECONDS = 0.05


def channel_of(blog_id: int) -> str:
    return f"{PREFIX}{blog_id}"


def _blog_of(channel: bytes | str) -> int | None:
    name = channel.decode() if isinstance(channel, bytes) else channel
    return int(name[len(PREFIX) :]) if name.startswith(PREFIX) else None


class Broker(Protocol):
    async def start(
        self, on_message: OnMessage, on_reconnect: OnReconnect, on_notice: OnNotice
    ) -> None: ...
    async def stop(self) -> None: ...
    def publish(self, event: LoggedEvent) -> None: ...
    def notify(self, blog_id: int, type_: str, data: bytes) -> None: ...
    def watch(self, blog_id: int) -> "asyncio.Future[None]":
        """Listen for the blog's doorbells (counted: once per `unwatch`). The future is done
        once the subscription is made, or at once if the broker is away."""
        ...

    def unwatch(self, blog_id: int) -> None: ...
    async def ping(self) -> bool: ...


def _done() -> "asyncio.Future[None]":
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


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

    def watch(self, blog_id: int) -> "asyncio.Future[None]":
        return _done()

    def unwatch(self, blog_id: int) -> None:
        pass

    async def ping(self) -> bool:
        return True


class RedisBroker:
    """Redis pub/sub, a channel per blog (sharded on a cluster); each message is
    `<instance> <blog> <offset> <type>\\n<json>`; offset 0: a notice for the newsroom's
    desks."""

    def __init__(self, url: str, reconnect_seconds: float = 0.5) -> None:
        self.url = url
        self.sharded = is_cluster(url)
        self.instance = f"{os.getpid()}-{os.urandom(4).hex()}".encode()
        self.reconnect_seconds = reconnect_seconds
        self.reconnects = 0
        self.heard = 0  # doorbells from other instances
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(OUTBOX_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []
        self._pinger: Any = None
        self._watched: dict[int, int] = {}  # blog -> watchers (the hub, the desk)
        self._subscribed: set[int] = set()  # as told to Redis on the live subscription
        self._unanswered: dict[int, int] = {}  # blog -> (un)subscribes Redis has yet to answer
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._changes: asyncio.Queue[int] = asyncio.Queue()
        self._pubsub: Any = None  # the live subscription, while there is one

    async def start(
        self, on_message: OnMessage, on_reconnect: OnReconnect, on_notice: OnNotice
    ) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self._on_notice = on_notice
        self._subscribed_once = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listen"),
            asyncio.create_task(self._send(), name="redis-send"),
            asyncio.create_task(self._follow_changes(), name="redis-subscriptions"),
        ]
        # Serve even if Redis is down at start; readers are caught up once it is back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed_once.wait(), timeout=5)

    async def stop(self) -> None:
        for task in self._tasks:
            await tasks.stop(task)
        if self._pinger is not None:
            await self._pinger.aclose()
        self._confirm_all()

    async def ping(self) -> bool:
        """Whether Redis answers now (for /readyz)."""
        if self._pinger is None:
            self._pinger = redis_client(self.url, 1)
        try:
            return bool(await self._pinger.ping())
        except (RedisError, OSError):
            return False

    # --- which blogs ----------------------------------------------------------------------

    def watch(self, blog_id: int) -> "asyncio.Future[None]":
        count = self._watched.get(blog_id, 0)
        self._watched[blog_id] = count + 1
        future = asyncio.get_running_loop().create_future()
        if self._pubsub is None or (count and self._listening(blog_id)):
            # Away (caught up once back), or listening already. Unwatched a moment ago
            # (count 0), its channel may be on its way out: it waits for that change.
            future.set_result(None)
        else:
            self._waiting.setdefault(blog_id, []).append(future)
            if count == 0:
                self._changes.put_nowait(blog_id)
        return future

    def unwatch(self, blog_id: int) -> None:
        count = self._watched.get(blog_id, 0) - 1
        if count > 0:
            self._watched[blog_id] = count
        else:
            self._watched.pop(blog_id, None)
            self._changes.put_nowait(blog_id)

    def watched(self) -> set[int]:
        return set(self._watched)

    def _listening(self, blog_id: int) -> bool:
        """Whether Redis has confirmed the subscription to the blog's channel, and has been
        told nothing of it since (a subscription still on its way is not yet listening)."""
        return blog_id in self._subscribed and blog_id not in self._unanswered

    def _told(self, blog_id: int) -> None:
        self._unanswered[blog_id] = self._unanswered.get(blog_id, 0) + 1

    def _answered(self, blog_id: int) -> None:
        left = self._unanswered.pop(blog_id, 0) - 1
        if left > 0:
            self._unanswered[blog_id] = left
        if self._listening(blog_id):
            self._confirm(blog_id)

    def _confirm(self, blog_id: int) -> None:
        for future in self._waiting.pop(blog_id, ()):
            if not future.done():
                future.set_result(None)

    def _confirm_all(self) -> None:
        for blog_id in list(self._waiting):
            self._confirm(blog_id)

    async def _follow_changes(self) -> None:
        """Subscribe and unsubscribe as blogs are watched and unwatched, one at a time and
        in order, on the live subscription (a new one subscribes to all that are watched)."""
        while True:
            blog_id = await self._changes.get()
            pubsub = self._pubsub
            if pubsub is None:
                self._confirm(blog_id)
                continue
            wanted, subscribed = blog_id in self._watched, blog_id in self._subscribed
            try:
                if wanted and not subscribed:
                    self._subscribed.add(blog_id)
                    self._told(blog_id)
                    await self._subscribe(pubsub, channel_of(blog_id))
                elif subscribed and not wanted:
                    self._subscribed.discard(blog_id)
                    self._told(blog_id)
                    await self._unsubscribe(pubsub, channel_of(blog_id))
                elif not wanted or self._listening(blog_id):
                    self._confirm(blog_id)
                # else: subscribed and not yet confirmed; the watchers wait for Redis's answer
            except (RedisError, OSError) as error:
                # The listener sees the connection fail too, and subscribes anew; if it
                # did not fail, no answer is awaited (a late one finds nothing to count).
                log.info("redis: could not change a subscription: %r", error)
                self._unanswered.pop(blog_id, None)
                self._confirm(blog_id)
            BROKER_SUBSCRIPTIONS.set(len(self._subscribed))

    async def _subscribe(self, pubsub: Any, *channels: str) -> None:
        if self.sharded:
            await pubsub.ssubscribe(*channels)
        else:
            await pubsub.subscribe(*channels)

    async def _unsubscribe(self, pubsub: Any, channel: str) -> None:
        if self.sharded:
            await pubsub.sunsubscribe(channel)
        else:
            await pubsub.unsubscribe(channel)

    # --- sending --------------------------------------------------------------------------

    def publish(self, event: LoggedEvent) -> None:
        self._send_soon(event.blog_id, event.offset, event.type, event.data)

    def notify(self, blog_id: int, type_: str, data: bytes) -> None:
        self._send_soon(blog_id, NOTICE_OFFSET, type_, data)

    def _send_soon(self, blog_id: int, offset: int, type_: str, data: bytes) -> None:
        message = b"%b %d %d %b\n%b" % (self.instance, blog_id, offset, type_.encode(), data)
        try:
            self._outbox.put_nowait((channel_of(blog_id), message))
        except asyncio.QueueFull:
            # Redis has been away for a long while; other instances catch up from the log
            # (and desks re-read their questions when the subscription is back).
            log.warning("redis outbox full; dropping the doorbell for blog %d", blog_id)

    def _client(self) -> Any:
        return redis_client(self.url, TIMEOUT_SECONDS)

    async def _send(self) -> None:
        client = self._client()
        publish = client.spublish if self.sharded else client.publish
        try:
            while True:
                tasks.raise_if_cancelled()
                channel, message = await self._outbox.get()
                while True:
                    try:
                        await publish(channel, message)
                        BROKER.answered()
                        break
                    except (RedisError, OSError) as error:
                        BROKER.failed("publishing an event", error)
                        tasks.raise_if_cancelled()
                        await asyncio.sleep(self.reconnect_seconds)
        finally:
            await client.aclose()

    # --- listening ------------------------------------------------------------------------

    async def _listen(self) -> None:
        first = True
        while True:
            client = self._client()
            try:
                async with client.pubsub() as pubsub:
                    watched = set(self._watched)
                    self._unanswered = dict.fromkeys(watched, 1)
                    await self._subscribe(pubsub, ALWAYS, *map(channel_of, sorted(watched)))
                    await self._heard_from(pubsub)  # the first confirmation
                    self._subscribed = watched
                    self._pubsub = pubsub
                    BROKER_SUBSCRIPTIONS.set(len(watched))
                    for blog_id in set(self._watched) ^ watched:  # changed meanwhile
                        self._changes.put_nowait(blog_id)
                    self._subscribed_once.set()
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
                    await self._read(pubsub)
            except (RedisError, OSError) as error:
                BROKER.failed("the event subscription", error)
                first = False
            finally:
                self._pubsub = None
                self._subscribed = set()
                self._unanswered = {}
                self._confirm_all()
                with contextlib.suppress(Exception):
                    await client.aclose()
            tasks.raise_if_cancelled()
            await asyncio.sleep(self.reconnect_seconds)

    async def _next(self, pubsub: Any) -> dict[str, Any] | None:
        if self.sharded:
            message: dict[str, Any] | None = await pubsub.get_sharded_message(
                timeout=SHARD_POLL_SECONDS
            )
            return message
        return await pubsub.get_message(timeout=1.0)  # type: ignore[no-any-return]

    async def _heard_from(self, pubsub: Any) -> None:
        """Wait for Redis to confirm the subscription (messages before it are dropped:
        the catch-up that follows a subscription covers them)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT_SECONDS
        while loop.time() < deadline:
            message = await self._next(pubsub)
            if message is not None:
                self._handle(message)
                if message["type"] in ("subscribe", "ssubscribe"):
                    return
        raise ConnectionError("redis did not confirm the subscription")

    async def _read(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            tasks.raise_if_cancelled()
            message = await self._next(pubsub)
            now = loop.time()
            if message is not None:
                heard = now
                self._handle(message)
            elif self.sharded:
                # redis-py follows the shards itself (failovers, moved slots); the
                # periodic catch-up covers what a failover dropped.
                continue
            elif now - heard > SILENCE_SECONDS:
                raise ConnectionError(f"no word from Redis in {now - heard:.0f} s")
            elif now - heard > SILENCE_SECONDS / 2 and now - pinged > 1:
                pinged = now
                await pubsub.ping()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind in ("message", "smessage"):
            self._dispatch(message["data"])
        elif kind in ("subscribe", "ssubscribe", "unsubscribe", "sunsubscribe"):
            blog_id = _blog_of(message["channel"])
            if blog_id is not None:
                self._answered(blog_id)

    def _dispatch(self, message: bytes) -> None:
        head, _, data = message.partition(b"\n")
        try:
            instance, blog_id, offset, *kind = head.split(b" ")
            if instance != self.instance:
                self.heard += 1
                BROKER_MESSAGES.inc()
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
    raise ValueError(
        f"BROKER_URL must be memory://, redis://... or redis+cluster://..., not {url!r}"
    )
