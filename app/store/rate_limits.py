"""Rate limits (posts per API token, questions per address and per blog): a token bucket
per process, or the same allowance across every instance, kept in Redis (GCRA on Redis's
clock). What a limit keeps of a key (a token's id, an address) expires with its window."""

import time

from redis.exceptions import RedisError

from app.config import is_redis
from app.ops.outages import BROKER
from app.store.redis_client import redis_client

Key = int | str
# Buckets kept in a process before the full ones (forgotten keys) are dropped.
PRUNE_AT = 10_000


class RateLimit:
    """A token bucket per key: `per_minute` actions, in bursts of up to `burst`. In this
    process only; `SharedRateLimit` holds it for every instance."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60
        self.burst = burst
        self._buckets: dict[Key, tuple[float, float]] = {}  # key -> (tokens, at)

    def wait(self, key: Key) -> float:
        """Take one action; 0 if allowed now, else the seconds until one is."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        if len(self._buckets) >= PRUNE_AT:
            self._prune(now)
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def _prune(self, now: float) -> None:
        """Forget the keys whose buckets have filled up again: they are as if never seen."""
        full = [k for k, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.rate >= self.burst]  # fmt: skip
        for key in full:
            del self._buckets[key]

    async def check(self, key: Key) -> float:
        return self.wait(key)


# GCRA, the token bucket kept as one timestamp per token, on Redis's own clock so that
# every instance counts alike. KEYS[1]: the token's key; ARGV: ms per post, burst.
_GCRA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now + 1000)
return 0
"""


class SharedRateLimit:
    """The same allowance per key across every instance, kept in Redis under
    `liveupdates:<name>:<key>` until its bucket is full again. While Redis cannot be
    reached, each instance falls back to its own bucket: the service goes on."""

    TIMEOUT_SECONDS = 0.5

    def __init__(self, url: str, name: str, per_minute: float, burst: int) -> None:
        self.local = RateLimit(per_minute, burst)
        self.name = name
        self.interval_ms = round(60_000 / per_minute) if per_minute > 0 else 0
        self.burst = burst
        self._redis = redis_client(url, self.TIMEOUT_SECONDS)
        self._script = self._redis.register_script(_GCRA)

    async def check(self, key: Key) -> float:
        """0 if `key` may act now, else the seconds until it may."""
        if self.interval_ms <= 0:
            return 0.0
        try:
            wait_ms = await self._script(
                keys=[f"liveupdates:{self.name}:{key}"], args=[self.interval_ms, self.burst]
            )
        except (RedisError, OSError) as error:
            BROKER.failed("the shared rate limit (limiting per instance meanwhile)", error)
            return self.local.wait(key)
        BROKER.answered()
        return int(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def make_rate_limit(
    broker_url: str, name: str, per_minute: float, burst: int
) -> RateLimit | SharedRateLimit:
    """Shared through Redis when the instances have one, else per process."""
    if is_redis(broker_url):
        return SharedRateLimit(broker_url, name, per_minute, burst)
    return RateLimit(per_minute, burst)
