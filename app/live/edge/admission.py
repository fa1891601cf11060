"""Who may hold a socket: every connection counted per client network, reader connects paced
per network while the process is under pressure, and file descriptors kept in reserve so
that one flood cannot silence the rest."""

import ipaddress
import resource
import time
from collections import Counter
from functools import lru_cache


def raise_open_files_limit() -> int:
    """Let the process hold as many files as the system allows it; returns that number."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@lru_cache(maxsize=65536)
def network_of(address: str, ipv6_prefix: int = 64) -> str:
    """What a client is counted as: an IPv4 address as itself, an IPv6 one by its network
    (a /64 by default: one household, or one attacker, holds a whole /64). Anything that
    is not an address (a test client's name) counts as itself."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))


class Admission:
    """Counts this process's client sockets, by client network and in all.

    - `open`/`close`: every socket of a network, whatever it is (a request still arriving,
      a keep-alive, a WebSocket or SSE reader), against `per_address` (0: no limit).
    - `may_connect`: reader connects (WebSocket upgrades, SSE streams) per network and
      second, a token bucket of `per_second` with bursts of `burst` (0: no limit), applied
      only under pressure: while `pressure` readers or more are joining at once (0: always).
      A crowd behind one carrier NAT that reconnects after a restart is let in at once.
    - `room_for_reader`: false once the sockets open leave fewer than `reserve` of the
      process's file descriptors, so health checks and the newsroom still get through.

    A small file limit shrinks the reserve with it (to a quarter of the files at most), and
    no network may hold more than half of what readers may, so that one host's silent
    sockets cannot fill the process and turn others away.
    """

    def __init__(
        self,
        per_address: int,
        per_second: float,
        burst: int,
        reserve: int,
        open_files: int | None = None,
        ipv6_prefix: int = 64,
        pressure: int = 0,
    ) -> None:
        files = open_files if open_files is not None else raise_open_files_limit()
        self.reserve = min(reserve, files // 4)
        self.reader_ceiling = max(0, files - self.reserve)
        half = max(1, self.reader_ceiling // 2)
        self.per_address = min(per_address, half) if per_address else 0
        self.per_second = per_second
        self.burst = burst
        self.ipv6_prefix = ipv6_prefix
        self.pressure = pressure
        self.total = 0
        self.joining = 0  # readers admitted and not yet live (app/live/edge/stream.py)
        self._open: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # network -> (tokens, at)

    def network(self, address: str) -> str:
        return network_of(address, self.ipv6_prefix)

    def open(self, address: str | None) -> bool:
        """Count a socket; `None` counts it in all only (a trusted proxy's connection)."""
        if address is not None:
            key = self.network(address)
            if self.per_address and self._open[key] >= self.per_address:
                return False
            self._open[key] += 1
        self.total += 1
        return True

    def close(self, address: str | None) -> None:
        self.total -= 1
        if address is not None:
            key = self.network(address)
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]

    def move(self, before: str | None, after: str) -> bool:
        """Count a socket under another address (the client a proxy forwards for)."""
        if before == after:
            return True
        self.close(before)
        if self.open(after):
            return True
        self.open(before)
        return False

    def room_for_reader(self) -> bool:
        """For a socket already counted: may it become a reader?"""
        return self.total <= self.reader_ceiling

    @property
    def under_pressure(self) -> bool:
        return self.joining >= self.pressure

    def may_connect(self, address: str) -> bool:
        if self.per_second <= 0 or not self.under_pressure:
            return True
        key = self.network(address)
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) > 100_000:  # forget buckets full again rather than grow
            self._buckets = {
                a: (t, then)
                for a, (t, then) in self._buckets.items()
                if then + (self.burst - t) / self.per_second > now
            }
        self._buckets[key] = (tokens - 1, now)
        return True
