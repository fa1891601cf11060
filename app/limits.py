"""Limits on what clients may send: body sizes, posts per token; and who a client is
(sockets per address are counted at the reader edge, app/live/edge/admission.py)."""

import time

import redis.asyncio as redis
from fastapi import HTTPException, status
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import is_redis
from app.ops.outages import BROKER


def _too_large(max_bytes: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"request body larger than {max_bytes} bytes"
    )


class BodySizeLimitMiddleware:
    """Request bodies up to `max_bytes`, or the limit `larger` gives their path (uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"], self.max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > max_bytes:
                    await self._refuse(send, max_bytes)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    # FastAPI passes an HTTPException raised while reading the body through.
                    raise _too_large(max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = b'{"detail":"request body larger than %d bytes"}' % max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


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
        self._redis = redis.Redis.from_url(
            url, socket_timeout=self.TIMEOUT_SECONDS, socket_connect_timeout=self.TIMEOUT_SECONDS
        )
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


def client_address(peer: str, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: X-Forwarded-For is believed only from a trusted proxy."""
    if peer not in trusted or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if hop and hop not in trusted:
            return hop
    return peer
