"""Posts per API token: a token bucket per process, or the same allowance across every
instance, kept in Redis (GCRA on Redis's clock)."""

import time

from redis.exceptions import RedisError

from app.config import is_redis
from app.ops.outages import BROKER
from app.store.redis_client import redis_client


class PostRate:
    """A token bucket per API token: `per_minute` posts, in bursts of up to `burst`.
    In this process only; `SharedPostRate` holds it for every instance."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60
        self.burst = burst
        self._buckets: dict[int, tuple[float, float]] = {}  # token id -> (tokens, at)

    def wait(self, token_id: int) -> float:
        """Take one post; 0 if allowed now, else the seconds until one is."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, at = self._buckets.get(token_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[token_id] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[token_id] = (tokens - 1, now)
        return 0.0

    async def check(self, token_id: int) -> float:
        return self.wait(token_id)


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


class SharedPostRate:
    """The same allowance per token across every instance, kept in Redis. While Redis
    cannot be reached, each instance falls back to its own bucket: posts go on."""

    TIMEOUT_SECONDS = 0.5

    def __init__(self, url: str, per_minute: int, burst: int) -> None:
        self.local = PostRate(per_minute, burst)
        self.interval_ms = round(60_000 / per_minute) if per_minute > 0 else 0
        self.burst = burst
        self._redis = redis_client(url, self.TIMEOUT_SECONDS)
        self._script = self._redis.register_script(_GCRA)

    async def check(self, token_id: int) -> float:
        """0 if the token may post now, else the seconds until it may."""
        if self.interval_ms <= 0:
            return 0.0
        try:
            wait_ms = await self._script(
                keys=[f"liveupdates:rate:{token_id}"], args=[self.interval_ms, self.burst]
            )
        except (RedisError, OSError) as error:
            BROKER.failed("the shared rate limit (limiting per instance meanwhile)", error)
            return self.local.wait(token_id)
        BROKER.answered()
        return int(wait_ms) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def make_post_rate(broker_url: str, per_minute: int, burst: int) -> PostRate | SharedPostRate:
    """Shared through Redis when the instances have one, else per process."""
    if is_redis(broker_url):
        return SharedPostRate(broker_url, per_minute, burst)
    return PostRate(per_minute, burst)
