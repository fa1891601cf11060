"""The live audience: how many people read each blog right now, across every instance.

Each instance counts its own readers per blog (the hub keeps the count as they come and
go: nothing is counted per reader here) and, every AUDIENCE_SECONDS, writes them to Redis
as one hash per instance that expires unless renewed, and reads every live instance's
back; an instance that dies drops out within three rounds. With the in-memory broker
there is one instance and nothing to share. Answers (`count`) come from memory, so the
newsroom may ask as often as it likes. Blogs that show their audience to readers have it
sent to them as a notice (no offset, not logged) every READER_NOTICE_ROUNDS rounds, and
in their hello.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.exceptions import RedisError

from app.config import Settings, is_redis
from app.domain import events
from app.live.hub import Hub
from app.live.wire import NOTICE, Frame
from app.ops.outages import BROKER
from app.ops.tasks import Every
from app.store.redis_client import redis_client

log = logging.getLogger("liveupdates.audience")

# One hash tag: on a Redis Cluster, every key of the count is in one slot (one transaction).
PREFIX = "liveupdates:{audience}"
INSTANCES = f"{PREFIX}:instances"  # sorted set: instance -> when it last wrote
READER_NOTICE_ROUNDS = 6  # readers hear the count every sixth round (30 s by default)
TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Count:
    readers: int
    instances: int  # instances that reported in the last three rounds
    at: datetime  # when the count was taken


class Audience:
    def __init__(self, hub: Hub, settings: Settings, instance: str) -> None:
        self.hub = hub
        self.interval = settings.audience_seconds
        self.ttl = max(3 * self.interval, 3.0)
        self.instance = instance
        self._redis = (
            redis_client(settings.broker_url, TIMEOUT_SECONDS)
            if is_redis(settings.broker_url)
            else None
        )
        self.instances = 1
        self.at = datetime.now(UTC)
        self._rounds_task = Every("counting the audience", self.interval, self.round, outage=None)
        self._rounds = 0

    def start(self) -> None:
        if self.interval > 0:
            self._rounds_task.start()

    async def stop(self) -> None:
        await self._rounds_task.stop()
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.delete(self._key(self.instance))  # gone at once
                await self._redis.zrem(INSTANCES, self.instance)
            await self._redis.aclose()

    def count(self, blog_id: int) -> Count:
        if self.interval <= 0:  # not shared: this instance's own readers, now
            local = self.hub.audience()
            return Count(local.get(blog_id, 0), 1, datetime.now(UTC))
        return Count(self.hub.audience_totals.get(blog_id, 0), self.instances, self.at)

    async def round(self) -> None:
        # The totals live in the hub, which greets joining readers with them.
        local = totals = self.hub.audience()
        self.instances = 1
        if self._redis is not None:
            try:
                totals, self.instances = await self._share(local)
            except (RedisError, OSError) as error:
                BROKER.failed("audience", error)  # meanwhile: what this instance knows
        self.hub.audience_totals = totals
        self.at = datetime.now(UTC)
        self._rounds += 1
        if self._rounds % READER_NOTICE_ROUNDS == 1:
            await self.tell_readers()

    def _key(self, instance: str | bytes) -> str:
        name = instance.decode() if isinstance(instance, bytes) else instance
        return f"{PREFIX}:{name}"

    async def _share(self, local: dict[int, int]) -> tuple[dict[int, int], int]:
        assert self._redis is not None
        # Redis's clock, not ours: instances on hosts whose clocks differ stay in the count.
        seconds, microseconds = await self._redis.time()
        now = seconds + microseconds / 1e6
        key = self._key(self.instance)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if local:
                pipe.hset(key, mapping={str(blog): n for blog, n in local.items()})
                pipe.expire(key, int(self.ttl) + 1)
            pipe.zadd(INSTANCES, {self.instance: now})
            pipe.zremrangebyscore(INSTANCES, "-inf", now - self.ttl)
            pipe.zrangebyscore(INSTANCES, now - self.ttl, "+inf")
            *_, instances = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for instance in instances:
                pipe.hgetall(self._key(instance))
            counts = await pipe.execute()
        totals: dict[int, int] = {}
        for per_blog in counts:
            for blog, n in per_blog.items():
                totals[int(blog)] = totals.get(int(blog), 0) + int(n)
        return totals, len(instances)

    async def tell_readers(self) -> None:
        """Readers of blogs that show their audience get the count."""
        for blog_id, blog in self.hub.blogs_here().items():
            if blog.get("show_audience"):
                data = orjson.dumps(events.audience(self.hub.audience_totals.get(blog_id, 0)))
                await self.hub.notify(blog_id, Frame(NOTICE, data, events.EventType.AUDIENCE))
