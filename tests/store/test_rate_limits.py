"""Rate limits: a bucket per process, and one allowance across instances through Redis."""

import time

import httpx
import pytest

from app.store import rate_limits
from app.store.rate_limits import RateLimit
from tests.conftest import StartServer, Tokens
from tests.servers import RedisServer


def test_post_rate_refills_over_time() -> None:
    rate = RateLimit(per_minute=6000, burst=2)  # 100 a second
    assert rate.wait(1) == 0 and rate.wait(1) == 0
    assert 0 < rate.wait(1) <= 0.01
    assert rate.wait(2) == 0
    assert RateLimit(per_minute=0, burst=1).wait(1) == 0


async def test_instances_on_redis_share_each_tokens_allowance(
    start_server: StartServer, redis_server: RedisServer, tokens: Tokens, blog: dict[str, object]
) -> None:
    shared = {
        "broker_url": f"redis://127.0.0.1:{redis_server.port}/0",
        "post_rate_per_minute": 60,
        "post_burst": 3,
    }
    a, b = [await start_server(**shared) for _ in range(2)]
    url = f"/api/blogs/{blog['slug']}/entries"
    headers = tokens.auth("reporter")
    async with httpx.AsyncClient() as client:
        for n, server in enumerate((a, b, a)):  # the burst, spent across both instances
            r = await client.post(f"{server.url}{url}", json={"body": f"{n}"}, headers=headers)
            assert r.status_code == 201
        refused = await client.post(f"{b.url}{url}", json={"body": "4th"}, headers=headers)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 1

        redis_server.kill()  # each instance falls back to a bucket of its own: posts go on
        r = await client.post(f"{b.url}{url}", json={"body": "no redis"}, headers=headers)
        assert r.status_code == 201


def test_keys_are_forgotten_once_their_buckets_are_full_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rate_limits, "PRUNE_AT", 3)
    limit = RateLimit(per_minute=600_000, burst=1)  # refills in 0.1 ms
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert limit.wait(address) == 0
    time.sleep(0.01)
    limit.wait("192.0.2.4")  # at PRUNE_AT: the three full buckets go, then this one is kept
    assert set(limit._buckets) == {"192.0.2.4"}
