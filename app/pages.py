"""Readers' pages and feeds, server-rendered and cached per (blog, offset).

A breaking story brings a surge of readers, each loading the page once. The rendered page
(and its gzipped form) is kept until the blog's offset moves, so a surge costs one render
per change, not one per request. The cache learns of changes as a reader of the hub does,
so a request for an unchanged page touches no database either.
"""

import asyncio
import gzip
import hashlib
import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import nh3
import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select
from starlette.types import Receive, Scope, Send

from app.api.entries import decode_cursor, encode_cursor
from app.db import Database
from app.hub import Frame, Hub
from app.models import Blog, BlogPublic, BlogStatus, Entry, EntryPublic

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
PINNED_MAX = 5
KEY_EVENTS_MAX = 30
FEED_SIZE = 50
WEB = Path(__file__).resolve().parent.parent / "web"

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "xml", "atom"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def script_json(value: Any) -> str:
    """JSON that can sit inside <script>: nothing in it can close the tag or open a comment."""
    text = orjson.dumps(value).decode()
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def plain_text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(nh3.clean(fragment, tags=set()))).strip()


def local_time(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


templates.filters["script_json"] = script_json
templates.filters["plain_text"] = plain_text


@dataclass(frozen=True)
class Rendered:
    offset: int
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    media_type: str

    def answer(
        self, if_none_match: str | None, accept_encoding: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body for a request with these headers."""
        headers = [
            (b"etag", self.etag.encode()),
            (b"last-modified", format_datetime(self.last_modified, usegmt=True).encode()),
            (b"cache-control", b"public, max-age=0, must-revalidate"),
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


class _OffsetWatcher:
    """A hub reader that takes nothing: its channel's `last` is the blog's offset."""

    sent = 0

    def deliver(self, frame: Frame) -> None:
        pass


class PageCache:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._rendered: dict[tuple[int, str], Rendered] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._watching: dict[int, asyncio.Future[int]] = {}

    async def offset(self, blog_id: int) -> int:
        """The blog's latest offset as this instance knows it, without a query."""
        joined = self._watching.get(blog_id)
        if joined is None:
            joined = self._watching[blog_id] = asyncio.ensure_future(
                self.hub.join(blog_id, _OffsetWatcher())
            )
        try:
            await asyncio.shield(joined)
        except Exception:
            self._watching.pop(blog_id, None)  # the next request tries again
            raise
        channel = self.hub.channels[blog_id]
        assert channel.last is not None
        return channel.last

    def fresh(self, slug: str, kind: str) -> Rendered | None:
        """The cached rendering, if it is known and current; never waits."""
        blog_id = self.hub.slugs.get(slug)
        channel = self.hub.channels.get(blog_id) if blog_id is not None else None
        if channel is None or channel.last is None:
            return None
        cached = self._rendered.get((channel.blog_id, kind))
        return cached if cached is not None and cached.offset >= channel.last else None

    async def get(
        self,
        blog_id: int,
        kind: str,
        render: Callable[[], Awaitable[tuple[int, datetime, bytes]]],
        media_type: str,
    ) -> Rendered:
        key = (blog_id, kind)
        current = await self.offset(blog_id)
        cached = self._rendered.get(key)
        if cached is not None and cached.offset >= current:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one render per change, however many readers ask at once
            cached = self._rendered.get(key)
            if cached is not None and cached.offset >= current:
                return cached
            offset, modified, body = await render()
            digest = hashlib.sha1(body).hexdigest()[:16]
            cached = self._rendered[key] = Rendered(
                offset=offset,
                body=body,
                gzipped=gzip.compress(body, 6),
                etag=f'"{offset}-{digest}"',
                last_modified=modified,
                media_type=media_type,
            )
            return cached


def respond(request: Request, page: Rendered) -> Response:
    code, headers, body = page.answer(
        request.headers.get("if-none-match"), request.headers.get("accept-encoding", "")
    )
    response = Response(body, status_code=code)
    response.raw_headers = headers
    return response


class CachedPages:
    """What the server runs, in front of the app: a reader page or feed that is cached and
    current is answered here, before any middleware or routing, so that a surge of readers
    costs the least per request. Everything else goes to the app."""

    PATH = re.compile(r"/blogs/([a-z0-9-]+)(/feed\.atom)?")

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope["query_string"]
            and (found := self.PATH.fullmatch(scope["path"])) is not None
        ):
            cache: PageCache = self.app.state.pages
            page = cache.fresh(found.group(1), "feed" if found.group(2) else "page")
            if page is not None:
                headers = dict(scope["headers"])
                code, response_headers, body = page.answer(
                    headers.get(b"if-none-match", b"").decode("latin-1") or None,
                    headers.get(b"accept-encoding", b"").decode("latin-1"),
                )
                await send(
                    {"type": "http.response.start", "status": code, "headers": response_headers}
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": body if scope["method"] == "GET" else b"",
                    }
                )
                return
        await self.app(scope, receive, send)


def _base_url(request: Request) -> str:
    public: str = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


async def _blog_id(request: Request, slug: str) -> int:
    blog_id = await request.app.state.hub.resolve(slug)
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    return int(blog_id)


@dataclass
class BlogView:
    blog: BlogPublic
    offset: int
    entries: list[EntryPublic]
    pinned: list[EntryPublic]
    key_events: list[EntryPublic]
    older: str | None
    modified: datetime


async def load_view(db: Database, blog_id: int, before: str | None = None) -> BlogView:
    async with db.read() as session:
        # The blog (and its offset) first: whatever is read after it is at least as new,
        # so a client that resumes from this offset can miss nothing.
        blog = await session.get(Blog, blog_id)
        if blog is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blog")
        query = select(Entry).where(col(Entry.blog_id) == blog_id)
        if before is not None:
            published_at, entry_id = decode_cursor(before)
            query = query.where(
                (col(Entry.published_at) < published_at)
                | ((col(Entry.published_at) == published_at) & (col(Entry.id) < entry_id))
            )
        newest_first = (col(Entry.published_at).desc(), col(Entry.id).desc())
        entries = list(await session.scalars(query.order_by(*newest_first).limit(PAGE_SIZE + 1)))
        pinned = await session.scalars(
            select(Entry)
            .where(col(Entry.blog_id) == blog_id, col(Entry.pinned))
            .order_by(*newest_first)
            .limit(PINNED_MAX)
        )
        key_events = await session.scalars(
            select(Entry)
            .where(col(Entry.blog_id) == blog_id, col(Entry.key_event))
            .order_by(*newest_first)
            .limit(KEY_EVENTS_MAX)
        )
        public = [EntryPublic.of(e, blog.slug) for e in entries[:PAGE_SIZE]]
        view = BlogView(
            blog=BlogPublic.of(blog),
            offset=blog.last_offset,
            entries=public,
            pinned=[EntryPublic.of(e, blog.slug) for e in pinned],
            key_events=[EntryPublic.of(e, blog.slug) for e in key_events],
            older=encode_cursor(entries[PAGE_SIZE - 1]) if len(entries) > PAGE_SIZE else None,
            modified=max(
                [blog.created_at, blog.ended_at or blog.created_at]
                + [e.updated_at or e.published_at for e in public]
            ),
        )
    return view


def live_blog_posting(view: BlogView, url: str, publisher: str) -> dict[str, Any]:
    """schema.org LiveBlogPosting for search engines: the blog and the entries shown."""
    blog = view.blog
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": blog.title,
        "description": blog.description,
        "url": url,
        "datePublished": blog.created_at.isoformat(),
        "dateModified": view.modified.isoformat(),
        "coverageStartTime": blog.created_at.isoformat(),
        "publisher": {"@type": "Organization", "name": publisher},
        "liveBlogUpdate": [
            {
                "@type": "BlogPosting",
                "headline": entry.headline or plain_text(entry.html)[:110],
                "datePublished": entry.published_at.isoformat(),
                **({"dateModified": entry.updated_at.isoformat()} if entry.updated_at else {}),
                "articleBody": plain_text(entry.html),
                "url": f"{url}#entry-{entry.id}",
                "author": {"@type": "Person", "name": entry.author},
            }
            for entry in view.entries
        ],
    }
    if blog.ended_at is not None:
        data["coverageEndTime"] = blog.ended_at.isoformat()
    return data


def _render_blog(request: Request, view: BlogView, before: str | None) -> bytes:
    settings = request.app.state.settings
    url = f"{_base_url(request)}/blogs/{view.blog.slug}"
    zone = view.blog.timezone
    return (
        templates.get_template("blog.html")
        .render(
            blog=view.blog,
            view=view,
            url=url,
            before=before,
            ended=view.blog.status == BlogStatus.ended,
            jsonld=live_blog_posting(view, url, settings.publisher_name),
            local=lambda moment: local_time(moment, zone),
            today=datetime.now(UTC).astimezone(ZoneInfo(zone)).date(),
        )
        .encode()
    )


@router.api_route("/blogs/{slug}", methods=["GET", "HEAD"])
async def blog_page(
    request: Request,
    slug: str,
    before: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The reader's page: complete without JavaScript, live with it."""
    blog_id = await _blog_id(request, slug)
    db: Database = request.app.state.db
    if before is not None:  # older pages are rare: rendered as asked, not cached
        view = await load_view(db, blog_id, before)
        return Response(_render_blog(request, view, before), media_type="text/html")

    async def render() -> tuple[int, datetime, bytes]:
        view = await load_view(db, blog_id)
        return view.offset, view.modified, _render_blog(request, view, None)

    cache: PageCache = request.app.state.pages
    return respond(request, await cache.get(blog_id, "page", render, "text/html; charset=utf-8"))


@router.api_route("/blogs/{slug}/feed.atom", methods=["GET", "HEAD"])
async def blog_feed(request: Request, slug: str) -> Response:
    """Atom feed of the newest entries; an edit updates its entry."""
    blog_id = await _blog_id(request, slug)
    db: Database = request.app.state.db

    async def render() -> tuple[int, datetime, bytes]:
        async with db.read() as session:
            blog = await session.get(Blog, blog_id)
            if blog is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blog")
            entries = list(
                await session.scalars(
                    select(Entry)
                    .where(col(Entry.blog_id) == blog_id)
                    .order_by(col(Entry.published_at).desc(), col(Entry.id).desc())
                    .limit(FEED_SIZE)
                )
            )
        public = [EntryPublic.of(e, blog.slug) for e in entries]
        modified = max(
            [blog.created_at, blog.ended_at or blog.created_at]
            + [e.updated_at or e.published_at for e in public]
        )
        url = f"{_base_url(request)}/blogs/{blog.slug}"
        body = templates.get_template("feed.atom").render(
            blog=BlogPublic.of(blog), entries=public, url=url, updated=modified
        )
        return blog.last_offset, modified, body.encode()

    cache: PageCache = request.app.state.pages
    feed = await cache.get(blog_id, "feed", render, "application/atom+xml; charset=utf-8")
    return respond(request, feed)


@router.get("/")
async def index(request: Request) -> Response:
    """Every blog, live ones first."""
    db: Database = request.app.state.db
    async with db.read() as session:
        blogs = list(
            await session.scalars(
                select(Blog).order_by(
                    (col(Blog.status) == BlogStatus.live).desc(), col(Blog.created_at).desc()
                )
            )
        )
    page = templates.get_template("index.html").render(blogs=[BlogPublic.of(b) for b in blogs])
    return Response(page, media_type="text/html")


@router.get("/embed.js")
async def embed_script() -> FileResponse:
    """`<script src="/embed.js" data-blog="slug">`: the live blog in an auto-height iframe."""
    return FileResponse(WEB / "embed.js", media_type="text/javascript")
