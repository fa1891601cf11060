import httpx

from app.live.edge.admission import Admission, network_of
from app.live.edge.forwarded import client_address
from app.store.post_rate import PostRate
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
    sockets = Admission(per_address=2, per_second=0, burst=1, reserve=2, open_files=8)
    assert sockets.open("a") and sockets.open("a")
    assert not sockets.open("a")
    assert sockets.open("b")
    assert sockets.open(None)  # a trusted proxy's connection: counted in all only
    assert sockets.open("d") and sockets.open("d")
    assert sockets.room_for_reader()  # 6 open of 8, 2 kept in reserve
    assert sockets.open("c")
    assert not sockets.room_for_reader()
    sockets.close("c")
    sockets.close("a")
    assert sockets.open("a")
    assert sockets.move("a", "c") and sockets.move("b", "c")
    assert not sockets.move("a", "c")  # c has its two; a keeps its socket
    assert Admission(per_address=0, per_second=0, burst=1, reserve=0, open_files=9).open("x")


def test_reader_connects_are_paced_per_address_under_pressure() -> None:
    pace = Admission(per_address=0, per_second=1000, burst=3, reserve=0, open_files=100, pressure=5)
    assert all(pace.may_connect("a") for _ in range(10))  # no pressure: no pace
    pace.joining = 5  # a reconnect storm: five readers joining at once
    assert all(pace.may_connect("a") for _ in range(3))
    assert not pace.may_connect("a")
    assert pace.may_connect("b")
    pace.joining = 4
    assert pace.may_connect("a")


def test_a_small_file_limit_shrinks_the_reserve_and_each_networks_share() -> None:
    small = Admission(per_address=1000, per_second=0, burst=1, reserve=256, open_files=256)
    assert small.reserve == 64 and small.reader_ceiling == 192
    assert small.per_address == 96  # half of what readers may: one host cannot fill it
    assert all(small.open("198.51.100.7") for _ in range(96))
    assert not small.open("198.51.100.7")
    assert small.open("198.51.100.8") and small.room_for_reader()
    large = Admission(per_address=1000, per_second=0, burst=1, reserve=256, open_files=20000)
    assert (large.reserve, large.per_address) == (256, 1000)
    assert (
        Admission(per_address=0, per_second=0, burst=1, reserve=256, open_files=64).per_address == 0
    )


def test_ipv6_clients_are_counted_by_their_network() -> None:
    assert network_of("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert network_of("2001:db8:1:2::1", 48) == "2001:db8:1::/48"
    assert network_of("2001:db8::1", 128) == "2001:db8::1/128"
    assert network_of("::ffff:198.51.100.7") == "198.51.100.7"  # IPv4, mapped
    assert network_of("198.51.100.7") == "198.51.100.7"  # IPv4 by address
    assert network_of("fe80::1%eth0") == "fe80::/64"
    assert network_of("testclient") == "testclient"
    sockets = Admission(per_address=2, per_second=0, burst=1, reserve=0, open_files=100)
    assert sockets.open("2001:db8:1:2::1") and sockets.open("2001:db8:1:2::2")
    assert not sockets.open("2001:db8:1:2:ffff::3")  # the same household's /64
    assert sockets.open("2001:db8:1:3::1")  # the neighbours'
    sockets.close("2001:db8:1:2::2")
    assert sockets.open("2001:db8:1:2::7")


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
