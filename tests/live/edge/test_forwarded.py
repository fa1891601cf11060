"""Who a client is behind the proxies we trust."""

from app.live.edge.forwarded import client_address


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = ["10.0.0.2"]
    assert client_address("198.51.100.9", "203.0.113.7", trusted) == "198.51.100.9"
    assert client_address("10.0.0.2", "203.0.113.7", trusted) == "203.0.113.7"
    # A client cannot hide behind an address it forged at the start of the list.
    assert client_address("10.0.0.2", "1.1.1.1, 203.0.113.7", trusted) == "203.0.113.7"
    assert client_address("10.0.0.2", None, trusted) == "10.0.0.2"
