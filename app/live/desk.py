"""The newsroom's desks: the staff following a blog's readers' questions, told at once of
each question asked or closed on any instance (through the broker's notices).

A desk's stream starts with the open questions as the database has them; what follows
are notices. Notices are not logged: a desk that may have missed one (its queue filled, or
the broker's subscription was made anew) is told to read the questions again.
"""

import asyncio
from typing import Any

import orjson

from app.live.broker import Broker

# Notices a desk may hold unread before it must read the questions again.
DESK_QUEUE = 256


class DeskFollower:
    """One desk's stream of notices (JSON, as sent), or `stale`: read the questions again."""

    def __init__(self) -> None:
        self.notices: asyncio.Queue[bytes] = asyncio.Queue(DESK_QUEUE)
        self.stale = asyncio.Event()

    def take(self, data: bytes) -> None:
        try:
            self.notices.put_nowait(data)
        except asyncio.QueueFull:
            self.stale.set()

    async def next(self, timeout: float) -> bytes | None:
        """The next notice; None when stale (or nothing came within `timeout`)."""
        if self.stale.is_set():
            return None
        getting = asyncio.ensure_future(self.notices.get())
        stale = asyncio.ensure_future(self.stale.wait())
        done, pending = await asyncio.wait(
            {getting, stale}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        return getting.result() if getting in done else None

    def refreshed(self) -> None:
        """The questions were read again: what was queued before is in them."""
        self.stale.clear()
        while not self.notices.empty():
            self.notices.get_nowait()


class Desk:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.followers: dict[int, set[DeskFollower]] = {}

    def follow(self, blog_id: int) -> DeskFollower:
        follower = DeskFollower()
        if blog_id not in self.followers:
            self.broker.watch(blog_id)  # the notices of blogs without readers here too
        self.followers.setdefault(blog_id, set()).add(follower)
        return follower

    def leave(self, blog_id: int, follower: DeskFollower) -> None:
        followers = self.followers.get(blog_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self.followers[blog_id]
                self.broker.unwatch(blog_id)

    def tell(self, blog_id: int, notice: dict[str, Any]) -> None:
        """Tell every desk of the blog, here and on the other instances."""
        data = orjson.dumps(notice)
        self.heard(blog_id, notice["type"], data)
        self.broker.notify(blog_id, notice["type"], data)

    def heard(self, blog_id: int, type_: str, data: bytes) -> None:
        for follower in tuple(self.followers.get(blog_id, ())):
            follower.take(data)

    def missed_some(self) -> None:
        """Notices may have been lost (the broker was away): every desk reads again."""
        for followers in self.followers.values():
            for follower in followers:
                follower.stale.set()
