"""A broker channel per blog, on a real Redis: an instance hears the doorbells of the blogs
it watches (has readers or desks for) and of no other."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.live.broker import RedisBroker
from app.store.eventlog import LoggedEvent
from tests.servers import RedisServer


class Instance:
    """A broker as an instance runs it, with what it hears."""

    def __init__(self, url: str) -> None:
        self.broker = RedisBroker(url, reconnect_seconds=0.1)
        self.events: list[LoggedEvent] = []
        self.notices: list[int] = []
        self.reconnects = 0

    async def start(self) -> None:
        await self.broker.start(self.events.append, self._reconnected, self._notice)

    async def _reconnected(self) -> None:
        self.reconnects += 1

    def _notice(self, blog_id: int, type_: str, data: bytes) -> None:
        self.notices.append(blog_id)

    def blogs_heard(self) -> set[int]:
        return {event.blog_id for event in self.events}


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[Instance, Instance]]:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    a, b = Instance(url), Instance(url)
    await a.start()
    await b.start()
    yield a, b
    await a.broker.stop()
    await b.broker.stop()


async def heard(instance: Instance, count: int) -> None:
    for _ in range(200):
        if len(instance.events) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"heard {len(instance.events)} of {count}")


def event(blog_id: int, offset: int) -> LoggedEvent:
    return LoggedEvent(blog_id, offset, "entry.created", b"{}")


async def test_an_instance_hears_only_the_blogs_it_watches(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await asyncio.gather(*(a.broker.watch(blog) for blog in range(1, 11)))
    await asyncio.gather(*(b.broker.watch(blog) for blog in range(11, 21)))
    for blog in range(1, 21):  # every blog gets a post on each instance
        a.broker.publish(event(blog, 1))
        b.broker.publish(event(blog, 2))
    b.broker.notify(5, "question.asked", b"{}")
    b.broker.notify(15, "question.asked", b"{}")
    await heard(a, 10)
    await heard(b, 10)
    await asyncio.sleep(0.2)  # anything more would have come by now
    assert a.blogs_heard() == set(range(1, 11)) and len(a.events) == 10
    assert b.blogs_heard() == set(range(11, 21)) and len(b.events) == 10
    assert a.notices == [5]
    assert a.broker.heard == 11  # the doorbells that reached it: its blogs' alone


async def test_a_watch_returns_once_listening_and_an_unwatch_stops_it(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await a.broker.watch(7)  # done: whatever is published from now on is heard
    b.broker.publish(event(7, 1))
    await heard(a, 1)
    a.broker.watch(7)  # a second watcher (a desk): one subscription
    a.broker.unwatch(7)
    b.broker.publish(event(7, 2))
    await heard(a, 2)
    a.broker.unwatch(7)  # the last: no longer heard
    await asyncio.sleep(0.1)
    b.broker.publish(event(7, 3))
    # Unwatched and watched again at once: the changes are made in order, and it listens.
    a.broker.unwatch(8)
    a.broker.watch(9)
    a.broker.unwatch(9)
    await a.broker.watch(9)
    b.broker.publish(event(9, 1))
    await heard(a, 3)
    await asyncio.sleep(0.2)
    assert [(e.blog_id, e.offset) for e in a.events] == [(7, 1), (7, 2), (9, 1)]
    assert a.broker.watched() == {9}


async def test_a_watch_waits_for_redis_to_confirm_a_subscription_on_its_way(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await a.broker.watch(7)
    for n in range(1, 21):
        # The last reader leaves and another comes at once: the watch is done once the
        # leaving has been dealt with and the subscription is one Redis has confirmed.
        a.broker.unwatch(7)
        watching = a.broker.watch(7)
        assert not watching.done()
        await asyncio.wait_for(watching, 2)
        b.broker.publish(event(7, n))
        await heard(a, n)
    # A second watcher while the first's subscription is on its way waits for it too.
    first, second = a.broker.watch(8), a.broker.watch(8)
    assert not first.done() and not second.done()
    await asyncio.wait_for(asyncio.gather(first, second), 2)
    b.broker.publish(event(8, 1))
    await heard(a, 21)
    assert [e.offset for e in a.events if e.blog_id == 7] == list(range(1, 21))


async def test_after_redis_comes_back_every_watched_blog_is_heard_again(
    redis_server: RedisServer,
) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    a, b = Instance(url), Instance(url)
    await a.start()
    await b.start()
    try:
        await a.broker.watch(1)
        redis_server.kill()
        a.broker.watch(2)  # while Redis is away: made with the next subscription
        redis_server.start()
        for _ in range(100):
            if a.reconnects:
                break
            await asyncio.sleep(0.05)
        assert a.reconnects == 1  # the hub catches up from the log here
        for _ in range(50):  # b's publisher may still be finding its way back
            b.broker.publish(event(1, 1))
            b.broker.publish(event(2, 1))
            await asyncio.sleep(0.05)
            if a.blogs_heard() == {1, 2}:
                break
        assert a.blogs_heard() == {1, 2}
    finally:
        await a.broker.stop()
        await b.broker.stop()
