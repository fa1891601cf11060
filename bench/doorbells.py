"""Doorbell traffic per instance with a broker channel per blog, on a real Redis.

    .venv/bin/python -m bench.doorbells                       # 100 instances, 1,000 blogs
    .venv/bin/python -m bench.doorbells --broker redis+cluster://127.0.0.1:7000

Each "instance" is the broker an instance runs (app.live.broker.RedisBroker, its own Redis
connections), all in this process. Every instance has readers for `--reading` blogs (a
random few, as a load balancer spreads readers), so it watches those; one more instance
posts `--events` events to every blog. It prints what each instance heard (messages and
bytes), against what one channel for all blogs (before per-blog channels) would bring every
instance: every event. Then every instance's readers leave (unwatch: unsubscribed) and come
back (watch), and it prints how long the subscriptions took.
"""

import argparse
import asyncio
import random
import statistics
import time

from app.live.broker import RedisBroker
from app.store.eventlog import LoggedEvent

# An entry event of a real live blog's size (bench/fanout.py's real entry: ~4 KB).
EVENT = b'{"type":"entry.created","entry":{"body":"%b"}}' % (b"x" * 4000)


async def nothing() -> None:
    pass


async def watch_all(brokers: list[RedisBroker], read: list[list[int]]) -> None:
    pairs = zip(brokers, read, strict=True)
    await asyncio.gather(*(broker.watch(blog) for broker, mine in pairs for blog in mine))


async def run(url: str, instances: int, blogs: int, reading: int, events: int) -> None:
    random.seed(1)
    brokers = [RedisBroker(url) for _ in range(instances)]
    heard_bytes = [0] * instances

    def counter(n: int):  # type: ignore[no-untyped-def]
        def heard(event: LoggedEvent) -> None:
            heard_bytes[n] += len(event.data)

        return heard

    for n, broker in enumerate(brokers):
        await broker.start(counter(n), nothing, lambda *_: None)
    poster = RedisBroker(url)
    await poster.start(lambda _: None, nothing, lambda *_: None)
    read = [random.sample(range(1, blogs + 1), reading) for _ in range(instances)]
    started = time.monotonic()
    await asyncio.gather(
        *(b.watch(blog) for b, mine in zip(brokers, read, strict=True) for blog in mine)
    )
    watch_s = time.monotonic() - started
    for offset in range(1, events + 1):
        for blog in range(1, blogs + 1):
            poster.publish(LoggedEvent(blog, offset, "entry.created", EVENT))
    expected = [len(mine) * events for mine in read]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(b.heard >= want for b, want in zip(brokers, expected, strict=True)):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything more would have come by now
    heard = [b.heard for b in brokers]
    for broker, mine in zip(brokers, read, strict=True):
        for blog in mine:
            broker.unwatch(blog)
    while any(broker._subscribed for broker in brokers):  # every reader gone, everywhere
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await asyncio.gather(
        *(b.watch(blog) for b, mine in zip(brokers, read, strict=True) for blog in mine)
    )
    rewatch_s = time.monotonic() - started
    for broker in [*brokers, poster]:
        await broker.stop()

    total = blogs * events
    print(f"{instances} instances, {blogs} blogs, {reading} blogs read on each, "
          f"{events} events per blog ({total:,} in all, {len(EVENT):,} bytes each)")  # fmt: skip
    print("| per instance | heard (median) | heard (max) | one channel for all |")
    print("|---|---:|---:|---:|")
    print(f"| doorbells | {statistics.median(heard):,.0f} | {max(heard):,} | {total:,} |")
    megabytes = [b / 1e6 for b in heard_bytes]
    print(
        f"| MB | {statistics.median(megabytes):.1f} | {max(megabytes):.1f} "
        f"| {total * len(EVENT) / 1e6:.1f} |"
    )
    missing = sum(max(0, want - got) for want, got in zip(expected, heard, strict=True))
    extra = sum(max(0, got - want) for want, got in zip(expected, heard, strict=True))
    print(f"\nmissing {missing}, not watched but heard {extra}")
    print(
        f"{instances * reading:,} subscriptions made in {watch_s * 1000:.0f} ms; "
        f"dropped and made again in {rewatch_s * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--blogs", type=int, default=1000)
    parser.add_argument("--reading", type=int, default=20, help="blogs read on each instance")
    parser.add_argument("--events", type=int, default=3, help="events per blog")
    args = parser.parse_args()
    asyncio.run(run(args.broker, args.instances, args.blogs, args.reading, args.events))


if __name__ == "__main__":
    main()
