import httpx

from app.limits import PostRate, client_address
from app.live.edge.admission import Admission
from tests.conftest import StartServer, Tokens
from tests.services import RedisServer


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = ["10.0.0.2"]
    assert client_address("198.51.100.9", "203.0.113.7", trusted) == "198.51.100.9"
    assert client_address("10.0.0.2", "203.0.113.7", trusted) == "203.0.113.7"
    # A client cannot hide behind an address it forged at the start of the list.
    assert client_address("10.0.0.2", "1.1.1.1, 203.0.113.7", trusted) == "203.0.113.7"
    assert client_address("10.0.0.2", None, trusted) == "10.0.0.2"


def test_sockets_per_address_and_the_reserve() -> None:
    sockets = Admission(per_address=2, per_second=0, burst=1, reserve=2, open_files=6)
    assert sockets.open("a") and sockets.open("a")
    assert not sockets.open("a")
    assert sockets.open("b")
    assert sockets.open(None)  # a trusted proxy's connection: counted in all only
    assert sockets.room_for_reader()  # 4 open of 6, 2 kept in reserve
    assert sockets.open("c")
    assert not sockets.room_for_reader()
    sockets.close("c")
    sockets.close("a")
    assert sockets.open("a")
    assert sockets.move("a", "c") and sockets.move("b", "c")
    assert not sockets.move("a", "c")  # c has its two; a keeps its socket
    assert Admission(per_address=0, per_second=0, burst=1, reserve=0, open_files=9).open("x")


def test_reader_connects_are_paced_per_address() -> None:
    pace = Admission(per_address=0, per_second=1000, burst=3, reserve=0, open_files=100)
    assert all(pace.may_connect("a") for _ in range(3))
    assert not pace.may_connect("a")
    assert pace.may_connect("b")


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
