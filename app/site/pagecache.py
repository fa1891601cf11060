"""Rendered pages and feeds, kept per (blog, offset).

A breaking story brings a surge of readers, each loading the page once. The rendered page
(and its gzipped form) is kept until the blog's offset moves, so a surge costs one render
per change, not one per request. The cache learns of changes as a reader of the hub does,
so a request for an unchanged page touches no database either, and the middleware in
`cache_middleware.py` answers it before the framework is involved at all.
"""

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from enum import StrEnum

from fastapi import Request, Response, status

from app.live.hub import Hub
from app.live.routes import Route


class PageKind(StrEnum):
    """What the cache keeps of a blog: one of each, and one per entry for entries' kinds."""

    PAGE = "page"  # the reader's page, newest first
    OLDEST_FIRST = "oldest"  # the same read from the start
    FEED = "feed"
    ENTRY = "entry"  # an entry's own page
    ENTRY_HISTORY = "history"  # an entry's earlier versions, as a fragment


# The pages answered before the framework, by the route their path takes.
CACHED_ROUTES = {Route.PAGE: PageKind.PAGE, Route.FEED: PageKind.FEED,
                 Route.ENTRY_PAGE: PageKind.ENTRY}  # fmt: skip
_Key = tuple[int, PageKind, int | str]  # blog, kind, entry id or filter (0 or "": none)
# How long an archived blog's pages may be kept: it changes only if it is reopened.
ARCHIVED_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class Rendered:
    offset: int
    polls_seen: int  # the blog's polls' results changed this many times before the render
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    media_type: str
    max_age: int = 0  # seconds browsers and caches may keep it (archived blogs': a day)

    def answer(
        self, if_none_match: str | None, accept_encoding: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body for a request with these headers."""
        headers = [
            (b"etag", self.etag.encode()),
            (b"last-modified", format_datetime(self.last_modified, usegmt=True).encode()),
            (
                b"cache-control",
                b"public, max-age=%d" % self.max_age
                if self.max_age
                else b"public, max-age=0, must-revalidate",
            ),
            (b"vary", b"Accept-Encoding"),
        ]
        if if_none_match == self.etag:
            return status.HTTP_304_NOT_MODIFIED, headers, b""
        body = self.body
        if "gzip" in accept_encoding:
            body = self.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers += [
            (b"content-type", self.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        return status.HTTP_200_OK, headers, body


class PageCache:
    """Renderings per (blog, kind, part): `part` is an entry (of an entry's kinds) or a
    filter's query (of a page's). Those are many, so the cache keeps the `MAX_KEPT` most
    recently rendered, oldest out first."""

    MAX_KEPT = 2000

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._rendered: dict[_Key, Rendered] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._watching: dict[int, asyncio.Future[int]] = {}

    async def offset(self, blog_id: int) -> int:
        """The blog's latest offset as this instance knows it, without a query."""
        joined = self._watching.get(blog_id)
        if joined is None:
            joined = self._watching[blog_id] = asyncio.ensure_future(self.hub.follow(blog_id))
        try:
            await asyncio.shield(joined)
        except Exception:
            self._watching.pop(blog_id, None)  # the next request tries again
            raise
        offset = self.hub.offset_of(blog_id)
        assert offset is not None
        return offset

    def fresh(self, slug: str, kind: PageKind, entry_id: int | None = None) -> Rendered | None:
        """The cached rendering, if it is known and current; never waits."""
        blog_id = self.hub.id_of(slug)
        offset = self.hub.offset_of(blog_id) if blog_id is not None else None
        if blog_id is None or offset is None:
            return None
        cached = self._rendered.get((blog_id, kind, entry_id or 0))
        return cached if self._current(cached, blog_id, offset) else None

    def _current(self, cached: Rendered | None, blog_id: int, offset: int) -> bool:
        """Rendered at the blog's offset, and since its polls' results last changed."""
        return (
            cached is not None
            and cached.offset >= offset
            and cached.polls_seen >= self.hub.polls_seen.get(blog_id, 0)
        )

    async def get(
        self,
        blog_id: int,
        kind: PageKind,
        render: Callable[[], Awaitable[tuple[int, datetime, bytes]]],
        media_type: str,
        part: int | str | None = None,
    ) -> Rendered:
        key = (blog_id, kind, part or 0)
        current = await self.offset(blog_id)
        cached = self._rendered.get(key)
        if self._current(cached, blog_id, current):
            assert cached is not None
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one render per change, however many readers ask at once
            cached = self._rendered.get(key)
            if self._current(cached, blog_id, current):
                assert cached is not None
                return cached
            polls_seen = self.hub.polls_seen.get(blog_id, 0)
            offset, modified, body = await render()
            digest = hashlib.sha1(body).hexdigest()[:16]
            self._rendered.pop(key, None)  # re-inserted: newest last
            while len(self._rendered) >= self.MAX_KEPT:
                oldest = next(iter(self._rendered))
                del self._rendered[oldest]
                self._locks.pop(oldest, None)
            cached = self._rendered[key] = Rendered(
                offset=offset,
                polls_seen=polls_seen,
                body=body,
                gzipped=gzip.compress(body, 6),
                etag=f'"{offset}-{digest}"',
                last_modified=modified,
                media_type=media_type,
                max_age=ARCHIVED_MAX_AGE if self.hub.blog(blog_id).get("archived_at") else 0,
            )
            return cached


def respond(request: Request, page: Rendered) -> Response:
    code, headers, body = page.answer(
        request.headers.get("if-none-match"), request.headers.get("accept-encoding", "")
    )
    response = Response(body, status_code=code)
    response.raw_headers = headers
    return response
