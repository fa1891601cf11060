"""The hub delivers each blog's events once, in offset order, whatever order they arrive in."""

import asyncio
import contextlib
import zlib

import orjson
from fastapi import FastAPI

from app.domain.events import EventType
from app.domain.models import Blog
from app.live.broker import RedisBroker
from app.live.channel import SWEEP_SLICE
from app.live.edge.stream import in_writes
from app.live.hub import NOTICE_SLICE, Hub
from app.live.readers import QueueReader
from app.live.wire import NOTICE, Batch, CloseCode, Frame, Frames, close_frame, websocket_frame
from app.services import services
from app.store.db import Database
from app.store.eventlog import Change, LoggedEvent


class Recorder:
    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []

    def publish(self, event: LoggedEvent) -> None:
        self.events.append(event)


async def log_events(db: Database, count: int) -> tuple[int, list[LoggedEvent]]:
    """A blog with `count` logged events that were never handed to the hub."""
    async with db.write() as session:
        blog = Blog(slug="hub", title="Hub")
        session.add(blog)
        await session.flush()
    recorder = Recorder()
    for n in range(count):
        async with Change(db, recorder) as change:
            claimed = await change.claim_offset("hub")
            assert claimed is not None
            change.append(claimed, {"type": "note", "n": n})
    assert blog.id is not None
    return blog.id, recorder.events


async def log_more(db: Database, recorder: Recorder, count: int) -> None:
    """`count` more events in the "hub" blog, told to `recorder` (not to the hub)."""
    for _ in range(count):
        async with Change(db, recorder) as change:
            claimed = await change.claim_offset("hub")
            assert claimed is not None
            change.append(claimed, {"type": "note"})


async def received(reader: QueueReader, count: int) -> list[int]:
    offsets: list[int] = []
    while len(offsets) < count:
        batch = await asyncio.wait_for(reader.next_batch(), 5)
        assert batch is not None
        offsets += [f.offset for f in batch]
    return offsets


async def test_out_of_order_and_duplicate_events_are_delivered_once_in_order(app: FastAPI) -> None:
    hub: Hub = services(app).hub
    blog_id, _ = await log_events(services(app).db, 3)
    reader = QueueReader(1 << 20, "websocket")
    async with hub.subscribe(blog_id, reader) as position:
        assert position == 3  # everything logged so far is history for this reader
        recorder = Recorder()
        await log_more(services(app).db, recorder, 3)
        e4, e5, e6 = recorder.events
        for event in (e6, e4, e4, e5, e6):
            hub.publish(event)
        assert await received(reader, 3) == [4, 5, 6]


async def test_a_missing_event_is_read_from_the_log(app: FastAPI) -> None:
    hub: Hub = services(app).hub
    db: Database = services(app).db
    blog_id, _ = await log_events(db, 0)
    reader = QueueReader(1 << 20, "websocket")
    async with hub.subscribe(blog_id, reader) as position:
        assert position == 0
        recorder = Recorder()
        for _ in range(3):
            async with Change(db, recorder) as change:
                claimed = await change.claim_offset("hub")
                assert claimed is not None
                change.append(claimed, {"type": "note"})
        # Only the last one is published: 1 and 2 were "dropped by the broker".
        last = recorder.events[-1]
        hub.publish(last)
        assert await received(reader, 3) == [1, 2, 3]
        assert hub.filled == 2


async def test_a_lost_last_event_is_caught_up(app: FastAPI) -> None:
    hub: Hub = services(app).hub
    db: Database = services(app).db
    blog_id, _ = await log_events(db, 0)
    reader = QueueReader(1 << 20, "websocket")
    async with hub.subscribe(blog_id, reader):
        async with Change(db, Recorder()) as change:
            claimed = await change.claim_offset("hub")
            assert claimed is not None
            change.append(claimed, {"type": "note"})
        # Never published, and nothing comes after it: the catch-up finds it in the log.
        await hub.catch_up()
        assert await received(reader, 1) == [1]


async def test_the_channel_goes_when_its_last_reader_does(app: FastAPI) -> None:
    hub: Hub = services(app).hub
    blog_id, _ = await log_events(services(app).db, 1)
    async with hub.subscribe(blog_id, QueueReader(1024, "websocket")):
        async with hub.subscribe(blog_id, QueueReader(1024, "websocket")):
            assert hub.reader_count() == 2
        assert hub.reader_count() == 1
    assert hub.channels == {}


def test_queue_reader_is_bounded_in_bytes() -> None:
    reader = QueueReader(limit=100, kind="websocket")
    reader.deliver(Frame(1, b"x" * 60))
    assert not reader.dropped
    reader.deliver(Frame(2, b"x" * 60))
    assert reader.dropped
    reader.deliver(Frame(3, b"x"))
    assert asyncio.run(reader.next_batch()) is None


def test_websocket_frames() -> None:
    assert websocket_frame(b"hi") == b"\x81\x02hi"
    assert websocket_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert websocket_frame(b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")
    frame = Frame(7, b'{"a":1}')
    assert frame.ws is frame.ws  # built once
    assert frame.sse == b'id: 7\ndata: {"a":1}\n\n'


def test_compressed_frames_are_built_once_and_decode_to_the_event() -> None:
    data = orjson.dumps({"type": "entry.created", "html": "<p>words words words</p>" * 40})
    frame = Frame(3, data)
    deflated = frame.ws_deflated(15)
    assert deflated is frame.ws_deflated(15)
    assert deflated[0] == 0xC1  # FIN, RSV1 (compressed), text
    length = deflated[1] & 0x7F
    payload = deflated[2 + (2 if length == 126 else 0) :]
    assert zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff") == data
    assert len(deflated) < len(frame.ws) / 5


def test_close_reasons_are_cut_at_whole_characters() -> None:
    frame = close_frame(4404, "no blog " + "é" * 100)
    assert frame[0] == 0x88 and frame[1] == len(frame) - 2 <= 125
    assert int.from_bytes(frame[2:4], "big") == 4404
    assert frame[4:].decode().startswith("no blog é")


def test_broker_messages_carry_the_event_type_and_older_ones_are_read_too() -> None:
    broker = RedisBroker("redis://127.0.0.1:6379/0")
    got: list[LoggedEvent] = []
    broker._on_message = got.append
    data = b'{"type":"blog.updated","offset":4,"blog":{}}'
    broker._dispatch(b"other 7 4 blog.updated\n" + data)
    broker._dispatch(b"other 7 4\n" + data)  # from an instance before the type was sent
    broker._dispatch(broker.instance + b" 7 5 entry.created\n{}")  # our own: skipped
    broker._dispatch(b"garbage")
    assert got == [LoggedEvent(7, 4, "blog.updated", data)] * 2


async def test_a_notice_reaches_every_reader_and_lets_an_entry_pass(app: FastAPI) -> None:
    """Notices (the latest results or audience) are handed out a slice of readers at a
    time: every reader gets one, and an event published meanwhile does not wait for all."""
    hub: Hub = services(app).hub
    db: Database = services(app).db
    blog_id, _ = await log_events(db, 0)
    readers = [Writes() for _ in range(NOTICE_SLICE * 4 + 1)]
    async with contextlib.AsyncExitStack() as stack:
        for reader in readers:
            await stack.enter_async_context(hub.subscribe(blog_id, reader))
        recorder = Recorder()
        async with Change(db, recorder) as change:
            claimed = await change.claim_offset("hub")
            assert claimed is not None
            change.append(claimed, {"type": "note"})
        notice = Frame(NOTICE, b'{"type":"audience","count":1}', EventType.AUDIENCE)
        spreading = asyncio.create_task(hub.notify(blog_id, notice))
        await asyncio.sleep(0)  # the first slice has its notice
        hub.publish(recorder.events[0])  # swept through the readers between notices
        await spreading
        await until_sent(readers, 1)
    taken = [reader.taken for reader in readers]
    assert taken.count([NOTICE, 1]) >= NOTICE_SLICE  # the first slice had the notice first
    assert [1, NOTICE] in taken  # the entry did not wait for the notice to reach everyone
    assert all(sorted(t) == [NOTICE, 1] for t in taken)


async def test_an_ended_queue_reader_sends_what_it_took_then_closes() -> None:
    reader = QueueReader(1 << 20, "sse")
    frame = Frame(1, b'{"type":"blog.updated"}', EventType.BLOG_UPDATED)
    reader.deliver(frame)
    reader.end(CloseCode.ARCHIVED, "archived")
    assert await reader.next_batch() == [frame]
    assert await reader.next_batch() is None
    assert reader.closing == (CloseCode.ARCHIVED, "archived")


class Writes:
    """A reader that records each write it would make: the frames of each `deliver`."""

    kind = "websocket"
    in_audience = True

    def __init__(self) -> None:
        self.sent = 0
        self.writes: list[list[int]] = []
        self.taken: list[int] = []  # offsets in the order taken; notices as NOTICE

    def deliver(self, frames: Frames) -> None:
        if frames.offset > self.sent:
            fresh = frames.after(self.sent) if frames.first <= self.sent else frames
            self.writes.append([f.offset for f in fresh.frames])
            self.taken += self.writes[-1]
            self.sent = fresh.offset

    def notify(self, frame: Frame) -> None:
        self.taken.append(frame.offset)

    def end(self, code: int, reason: str) -> None:
        pass


async def until_sent(readers: list[Writes], offset: int) -> None:
    for _ in range(1000):
        if all(reader.sent >= offset for reader in readers):
            return
        await asyncio.sleep(0)
    raise AssertionError(f"not every reader reached {offset}")


async def test_frames_waiting_together_reach_a_reader_in_one_write(app: FastAPI) -> None:
    """Events that become deliverable at once (a gap closed, a page read from the log) are
    one write per reader; a single event is a write of its own."""
    hub: Hub = services(app).hub
    blog_id, events = await log_events(services(app).db, 0)
    readers = [Writes() for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        for reader in readers:
            await stack.enter_async_context(hub.subscribe(blog_id, reader))
        recorder = Recorder()
        await log_more(services(app).db, recorder, 5)
        first, *rest = recorder.events
        hub.publish(first)
        await until_sent(readers, 1)
        for event in reversed(rest):  # 5, 4, 3, 2: held until the gap closes
            hub.publish(event)
        await until_sent(readers, 5)
    assert all(reader.writes == [[1], [2, 3, 4, 5]] for reader in readers)


async def test_events_arriving_during_a_sweep_join_the_later_readers_writes(
    app: FastAPI,
) -> None:
    """A sweep writes `SWEEP_SLICE` readers a turn: an event published meanwhile reaches the
    readers not yet swept together with the first, and every reader has each once, in
    order."""
    hub: Hub = services(app).hub
    blog_id, _ = await log_events(services(app).db, 0)
    readers = [Writes() for _ in range(SWEEP_SLICE * 2 + 10)]
    async with contextlib.AsyncExitStack() as stack:
        for reader in readers:
            await stack.enter_async_context(hub.subscribe(blog_id, reader))
        recorder = Recorder()
        await log_more(services(app).db, recorder, 2)
        hub.publish(recorder.events[0])
        await asyncio.sleep(0)  # the first slice is written
        hub.publish(recorder.events[1])
        await until_sent(readers, 2)
    writes = sorted(reader.writes for reader in readers)
    assert writes.count([[1], [2]]) == SWEEP_SLICE  # swept before the second came
    assert writes.count([[1, 2]]) == len(readers) - SWEEP_SLICE  # both in one write


def test_a_batch_joins_its_frames_once_and_cuts_what_a_reader_has() -> None:
    frames = [Frame(n, b'{"offset":%d}' % n, EventType.ENTRY_CREATED) for n in (4, 5, 6)]
    batch = Batch.of(frames)
    assert isinstance(batch, Batch) and (batch.first, batch.offset) == (4, 6)
    assert batch.ws == b"".join(f.ws for f in frames)
    assert batch.ws is batch.ws  # built once
    assert batch.sse == b"".join(f.sse for f in frames)
    assert batch.after(5) is frames[2] and batch.after(4).ws == frames[1].ws + frames[2].ws
    assert Batch.of(frames[:1]) is frames[0]
    deflated = batch.ws_deflated(15)
    assert deflated == b"".join(f.ws_deflated(15) for f in frames)


def test_a_replay_goes_out_in_runs_of_bounded_size() -> None:
    frames = [Frame(n, b"x" * 100, EventType.ENTRY_CREATED) for n in range(1, 8)]
    runs = list(in_writes(frames, 250))
    assert [[f.offset for f in run.frames] for run in runs] == [[1, 2], [3, 4], [5, 6], [7]]
    big = [Frame(1, b"x" * 500, EventType.ENTRY_CREATED)]
    assert list(in_writes(big, 250)) == big  # a frame longer than a run: alone
