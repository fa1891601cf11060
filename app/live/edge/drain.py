"""On SIGTERM, connections the kernel has already accepted are served, not reset.

uvicorn closes its listening sockets as soon as its shutdown begins, and whatever waits in
their backlog (connections whose handshake the kernel completed, with their requests on the
way) is reset. So the first SIGTERM is held back until the event loop has taken everything
from the backlog (bounded in time); then uvicorn's own handler runs and its connections,
those just taken included, are answered and closed as in every shutdown. A second signal
goes straight to uvicorn (its "force exit").
"""

import asyncio
import contextlib
import os
import select
import signal
import socket
import stat
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

DRAIN_SECONDS = 1.0  # at most, from the signal to uvicorn's shutdown


def listening_sockets() -> list[int]:
    """This process's listening TCP sockets (uvicorn's, inherited by its workers too)."""
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    continue
                sock = socket.socket(fileno=fd)
                try:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                        found.append(fd)
                finally:
                    sock.detach()  # the descriptor stays open, and uvicorn's
    return found


def _pending(fds: list[int]) -> bool:
    """Whether a connection waits in a backlog."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class BacklogDrain:
    """Holds back the first SIGTERM (and SIGINT) until the backlog is empty."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.handlers: dict[int, Any] = {}
        self.draining: asyncio.Task[None] | None = None

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            handler = signal.getsignal(sig)
            if callable(handler):  # uvicorn's: wrapped; anything else is left alone
                self.handlers[sig] = handler
                signal.signal(sig, self._received)

    def uninstall(self) -> None:
        for sig, handler in self.handlers.items():
            if signal.getsignal(sig) == self._received:
                signal.signal(sig, handler)

    def _received(self, sig: int, frame: FrameType | None) -> None:
        if self.draining is not None:  # a second signal: as uvicorn would have it
            self.handlers[sig](sig, frame)
            return
        self.loop.call_soon_threadsafe(self._start, sig, frame)

    def _start(self, sig: int, frame: FrameType | None) -> None:
        if self.draining is None:
            self.draining = self.loop.create_task(
                self._drain(lambda: self.handlers[sig](sig, frame))
            )

    async def _drain(self, then: Callable[[], object]) -> None:
        try:
            fds = listening_sockets()
            deadline = time.monotonic() + DRAIN_SECONDS
            while fds and _pending(fds) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)  # the loop accepts what waits
            await asyncio.sleep(0.01)  # and the protocols of what it took are made
        finally:
            then()
