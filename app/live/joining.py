"""A reader's way in, whatever carries it (the edge's protocols, ASGI WebSocket, SSE).

Every transport follows the same path: subscribe first (live events start to collect), say
hello with the offset delivery starts from, replay the event log after `since` page by page,
then go live. Every offset reaches the reader once, in order, with no gap between replay and
live.
"""

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlmodel import col, select

from app.config import Settings
from app.domain import events
from app.domain.models import Blog
from app.live.channel import REPLAY_PAGE, Reader
from app.live.hub import Hub
from app.live.request import ReaderRequest, Refused
from app.live.wire import ARCHIVED_REASON, CloseCode, Frame
from app.ops.metrics import REPLAYED
from app.store.db import Database
from app.store.eventlog import read_events


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Refuse cross-site WebSocket hijacking: a browser always sends Origin."""
    if origin is None:
        return True  # not a browser; it could send any Origin it liked anyway
    origin = origin.rstrip("/")
    allowed = set(settings.allowed_origins)
    if "*" in allowed or origin in allowed:
        return True
    if settings.public_url:
        public = urlsplit(settings.public_url)
        if origin == f"{public.scheme}://{public.netloc}":
            return True
    return urlsplit(origin).netloc == host


def hello(
    blog: dict[str, Any],
    position: int,
    audience: int | None = None,
    polls: dict[str, Any] | None = None,
) -> bytes:
    greeting = events.hello(blog, position)
    if audience is not None:  # the blog shows its readers how many they are
        greeting["audience"] = audience
    if polls:  # the latest results of its polls with votes
        greeting["polls"] = polls
    return orjson.dumps(greeting)


async def start_reading(
    hub: Hub, db: Database, request: ReaderRequest, reader: Reader
) -> tuple[int, int, bytes]:
    """Join `reader` to the blog: (blog id, position, hello). Leave when done.

    Refuses a resume from another stream (its epoch is not the blog's: 4409) and from an
    offset the blog has not reached (4400): either way the client starts over.

    Costs no query when the blog already has readers on this instance, so that a surge of
    readers (a reconnect storm) does not become a surge of queries.
    """
    blog_id = await hub.resolve(request.slug)
    if blog_id is None:
        raise Refused(CloseCode.NO_SUCH_BLOG, 404, f"no blog {request.slug!r}")
    position = await hub.join(blog_id, reader)
    try:
        blog = hub.blog(blog_id)
        if blog.get("archived_at"):
            raise Refused(CloseCode.ARCHIVED, 410, ARCHIVED_REASON)
        since = request.since
        if since is not None and request.epoch is not None and request.epoch != blog["epoch"]:
            raise Refused(
                CloseCode.STREAM_CHANGED,
                409,
                f"epoch {request.epoch} is not this blog's stream ({blog['epoch']}): start over",
            )
        if since is not None and since > position:
            # It may have seen an event on its way here; the log knows.
            async with db.read() as session:
                latest = await session.scalar(
                    select(col(Blog.last_offset)).where(col(Blog.id) == blog_id)
                )
            if since > (latest or 0):
                raise Refused(
                    CloseCode.BAD_OFFSET, 400, f"since={since} is beyond the latest offset {latest}"
                )
        reader.sent = position if since is None else since
        audience = hub.audience_totals.get(blog_id, 1) if blog.get("show_audience") else None
        return blog_id, position, hello(blog, position, audience, hub.poll_results.get(blog_id))
    except BaseException:
        hub.leave(blog_id, reader)
        raise


async def replay_pages(
    db: Database, hub: Hub, blog_id: int, after: int, upto: int
) -> AsyncIterator[list[Frame]]:
    """Events in (after, upto], in pages: from the hub's memory when it has them all (one
    page), else from the event log a page at a time."""
    recent = hub.history(blog_id, after, upto)
    if recent is not None:
        REPLAYED.inc(len(recent))
        if recent:
            yield recent
        return
    while after < upto:
        async with db.read() as session:
            events = await read_events(session, blog_id, after, REPLAY_PAGE, upto=upto)
        if not events:
            return
        REPLAYED.inc(len(events))
        epoch = hub.blog(blog_id)["epoch"]
        yield [Frame.of(event, epoch) for event in events]
        after = events[-1].offset


async def replay(
    db: Database, hub: Hub, blog_id: int, after: int, upto: int
) -> AsyncIterator[Frame]:
    """`replay_pages`, a frame at a time."""
    async for page in replay_pages(db, hub, blog_id, after, upto):
        for frame in page:
            yield frame
