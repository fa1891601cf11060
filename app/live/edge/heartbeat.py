"""One task beats every reader connection: a WebSocket ping, or an SSE comment."""

import asyncio
from typing import Protocol


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
        self.interval = interval
        self.slices: list[set[Beating]] = [set() for _ in range(self.SLICES)]
        self._added = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: Beating) -> int:
        """Start beating `connection`; returns its slice, for `discard`."""
        slice_ = self._added % self.SLICES
        self._added += 1
        self.slices[slice_].add(connection)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return slice_

    def discard(self, connection: Beating, slice_: int) -> None:
        self.slices[slice_].discard(connection)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        tick = 0
        while any(self.slices):
            await asyncio.sleep(self.interval / self.SLICES)
            for connection in tuple(self.slices[tick % self.SLICES]):
                connection.heartbeat()
            tick += 1
