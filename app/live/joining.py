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

from app import events
from app.config import Settings
from app.db import Database
from app.eventlog import read_events
from app.live.hub import REPLAY_PAGE, Hub, Reader
from app.live.wire import CloseCode, Frame
from app.models import Blog
from app.ops.metrics import REPLAYED


def parse_since(raw: str | None) -> int | None:
    """`since` as given by a client: None, or a non-negative integer (ValueError otherwise)."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValueError("since must be a non-negative integer offset")
    return int(raw)


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


class Refused(Exception):
    """A reader that cannot be served: a close code for WebSockets, a status for SSE."""

    def __init__(self, code: int, status: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.status, self.reason = code, status, reason


def hello(blog: dict[str, Any], position: int, audience: int | None = None) -> bytes:
    greeting = events.hello(blog, position)
    if audience is not None:  # the blog shows its readers how many they are
        greeting["audience"] = audience
    return orjson.dumps(greeting)


def in_audience(value: str | None) -> bool:
    """`?audience=no` keeps a connection out of the live audience: the newsroom's own view
    of the blog, a monitor. It gets every event all the same."""
    return value != "no"


async def start_reading(
    hub: Hub, db: Database, slug: str, since_raw: str | None, reader: Reader
) -> tuple[int, int, bytes, int | None]:
    """Join `reader` to the blog: (blog id, position, hello, since). Leave when done.

    Costs no query when the blog already has readers on this instance, so that a surge of
    readers (a reconnect storm) does not become a surge of queries.
    """
    try:
        since = parse_since(since_raw)
    except ValueError as error:
        raise Refused(CloseCode.BAD_OFFSET, 400, str(error)) from None
    blog_id = await hub.resolve(slug)
    if blog_id is None:
        raise Refused(CloseCode.NO_SUCH_BLOG, 404, f"no blog {slug!r}")
    position = await hub.join(blog_id, reader)
    try:
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
        blog = hub.blog(blog_id)
        audience = hub.audience_totals.get(blog_id, 1) if blog.get("show_audience") else None
        return blog_id, position, hello(blog, position, audience), since
    except BaseException:
        hub.leave(blog_id, reader)
        raise


async def replay(
    db: Database, hub: Hub, blog_id: int, after: int, upto: int
) -> AsyncIterator[Frame]:
    """Events in (after, upto]: from the hub's memory when it has them all, else from the
    event log a page at a time."""
    recent = hub.history(blog_id, after, upto)
    if recent is not None:
        REPLAYED.inc(len(recent))
        for frame in recent:
            yield frame
        return
    while after < upto:
        async with db.read() as session:
            events = await read_events(session, blog_id, after, REPLAY_PAGE, upto=upto)
        if not events:
            return
        REPLAYED.inc(len(events))
        for event in events:
            yield Frame.of(event)
        after = events[-1].offset
