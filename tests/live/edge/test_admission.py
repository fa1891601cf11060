"""Sockets per address (IPv6 per /64), reader connects paced under pressure, the file
descriptor reserve."""

from app.live.edge.admission import Admission, network_of


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
