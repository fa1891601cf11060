"""Posts per token: a bucket per process, and one allowance across instances through Redis."""

import httpx

from app.store.post_rate import PostRate
from tests.conftest import StartServer, Tokens
from tests.servers import RedisServer


def test_post_rate_refills_over_time() -> None:
    rate = PostRate(per_minute=6000, burst=2)  # 100 a second
    assert rate.wait(1) == 0 and rate.wait(1) == 0
    assert 0 < rate.wait(1) <= 0.01
    assert rate.wait(2) == 0
    assert PostRate(per_minute=0, burst=1).wait(1) == 0


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
