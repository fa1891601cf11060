"""Readers' pages and feeds, server-rendered (and cached: see pagecache.py)."""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import nh3
import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select

from app.db import Database
from app.models import Blog, BlogPublic, BlogStatus, Entry, EntryPublic, EntryStatus
from app.pagecache import PageCache, respond
from app.paging import NEWEST_FIRST, encode_cursor, older_than
from app.resources import TEMPLATES, WEB
from app.services import services

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
PINNED_MAX = 5
KEY_EVENTS_MAX = 30
FEED_SIZE = 50


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
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


def _base_url(request: Request) -> str:
    public: str = services(request.app).settings.public_url
    return (public or str(request.base_url)).rstrip("/")


async def _blog_id(request: Request, slug: str) -> int:
    blog_id = await services(request.app).hub.resolve(slug)
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


# Drafts and scheduled entries are the newsroom's business.
PUBLISHED = col(Entry.status) == EntryStatus.published


async def load_view(db: Database, blog_id: int, before: str | None = None) -> BlogView:
    async with db.read() as session:
        # The blog (and its offset) first: whatever is read after it is at least as new,
        # so a client that resumes from this offset can miss nothing.
        blog = await session.get(Blog, blog_id)
        if blog is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blog")
        query = select(Entry).where(col(Entry.blog_id) == blog_id, PUBLISHED)
        if before is not None:
            query = query.where(older_than(before))
        entries = list(await session.scalars(query.order_by(*NEWEST_FIRST).limit(PAGE_SIZE + 1)))
        pinned = await session.scalars(
            select(Entry)
            .where(col(Entry.blog_id) == blog_id, PUBLISHED, col(Entry.pinned))
            .order_by(*NEWEST_FIRST)
            .limit(PINNED_MAX)
        )
        key_events = await session.scalars(
            select(Entry)
            .where(col(Entry.blog_id) == blog_id, PUBLISHED, col(Entry.key_event))
            .order_by(*NEWEST_FIRST)
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
    settings = services(request.app).settings
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
    db: Database = services(request.app).db
    if before is not None:  # older pages are rare: rendered as asked, not cached
        view = await load_view(db, blog_id, before)
        return Response(_render_blog(request, view, before), media_type="text/html")

    async def render() -> tuple[int, datetime, bytes]:
        view = await load_view(db, blog_id)
        return view.offset, view.modified, _render_blog(request, view, None)

    cache: PageCache = services(request.app).pages
    return respond(request, await cache.get(blog_id, "page", render, "text/html; charset=utf-8"))


@router.api_route("/blogs/{slug}/feed.atom", methods=["GET", "HEAD"])
async def blog_feed(request: Request, slug: str) -> Response:
    """Atom feed of the newest entries; an edit updates its entry."""
    blog_id = await _blog_id(request, slug)
    db: Database = services(request.app).db

    async def render() -> tuple[int, datetime, bytes]:
        async with db.read() as session:
            blog = await session.get(Blog, blog_id)
            if blog is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blog")
            entries = list(
                await session.scalars(
                    select(Entry)
                    .where(col(Entry.blog_id) == blog_id, PUBLISHED)
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

    cache: PageCache = services(request.app).pages
    feed = await cache.get(blog_id, "feed", render, "application/atom+xml; charset=utf-8")
    return respond(request, feed)


@router.get("/")
async def index(request: Request) -> Response:
    """Every blog, live ones first."""
    db: Database = services(request.app).db
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


@router.get("/newsroom")
async def newsroom() -> Response:
    """The newsroom's compose and curation page; everything it shows comes from the API."""
    page = templates.get_template("newsroom.html").render()
    return Response(page, media_type="text/html", headers={"Cache-Control": "no-store"})


@router.get("/embed.js")
async def embed_script() -> FileResponse:
    """`<script src="/embed.js" data-blog="slug">`: the live blog in an auto-height iframe."""
    return FileResponse(WEB / "embed.js", media_type="text/javascript")
