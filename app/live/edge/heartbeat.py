"""One task beats every reader connection: a WebSocket ping, or an SSE comment."""

from typing import Protocol

from app.ops.tasks import Every


class Beating(Protocol):
    def heartbeat(self) -> None:
        """Write a heartbeat now, without awaiting anything."""


class Heartbeat:
    """Beats every reader once an interval (a ping, or an SSE comment).

    Readers are spread over slices beaten one after another, so that 30,000 readers cost a
    steady trickle rather than a burst that would hold up deliveries.
    """

    SLICES = 16

    def __init__(self, interval: float) -> None:
        self.slices: list[set[Beating]] = [set() for _ in range(self.SLICES)]
        self._added = 0
        self._tick = 0
        self._beats = Every(
            "heartbeat", interval / self.SLICES, self._beat, wait_first=True, outage=None
        )

    def add(self, connection: Beating) -> int:
        """Start beating `connection`; returns its slice, for `discard`."""
        slice_ = self._added % self.SLICES
        self._added += 1
        self.slices[slice_].add(connection)
        if not self._beats.running:
            self._beats.start()
        return slice_

    def discard(self, connection: Beating, slice_: int) -> None:
        self.slices[slice_].discard(connection)

    async def stop(self) -> None:
        await self._beats.stop()

    async def _beat(self) -> None:
        for connection in tuple(self.slices[self._tick % self.SLICES]):
            connection.heartbeat()
        self._tick += 1
