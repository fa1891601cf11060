"""Who may hold a socket: every connection counted per address, reader connects paced per
address, and file descriptors kept in reserve so that one flood cannot silence the rest."""

import resource
import time
from collections import Counter


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


class Admission:
    """Counts this process's client sockets, by address and in all.

    - `open`/`close`: every socket of an address, whatever it is (a request still arriving,
      a keep-alive, a WebSocket or SSE reader), against `per_address` (0: no limit).
    - `may_connect`: reader connects (WebSocket upgrades, SSE streams) per address and
      second, a token bucket of `per_second` with bursts of `burst` (0: no limit).
    - `room_for_reader`: false once the sockets open leave fewer than `reserve` of the
      process's file descriptors, so health checks and the newsroom still get through.
    """

    def __init__(
        self,
        per_address: int,
        per_second: float,
        burst: int,
        reserve: int,
        open_files: int | None = None,
    ) -> None:
        self.per_address = per_address
        self.per_second = per_second
        self.burst = burst
        files = open_files if open_files is not None else raise_open_files_limit()
        self.reader_ceiling = max(0, files - reserve)
        self.total = 0
        self._open: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def open(self, address: str | None) -> bool:
        """Count a socket; `None` counts it in all only (a trusted proxy's connection)."""
        if address is not None:
            if self.per_address and self._open[address] >= self.per_address:
                return False
            self._open[address] += 1
        self.total += 1
        return True

    def close(self, address: str | None) -> None:
        self.total -= 1
        if address is not None:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

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

    def may_connect(self, address: str) -> bool:
        if self.per_second <= 0:
            return True
        now = time.monotonic()
        tokens, at = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        if len(self._buckets) > 100_000:  # forget buckets full again rather than grow
            self._buckets = {
                a: (t, then)
                for a, (t, then) in self._buckets.items()
                if then + (self.burst - t) / self.per_second > now
            }
        self._buckets[address] = (tokens - 1, now)
        return True
