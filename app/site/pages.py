"""Readers' pages and feeds, server-rendered (and cached: see pagecache.py)."""

from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from sqlmodel import col, select

from app.domain.alerts import plain_text, summary
from app.domain.filters import Filter
from app.domain.models import Blog, BlogStatus, Entry, EntryStatus
from app.domain.shapes.blogs import BlogPublic
from app.domain.tags import TAG_MAX
from app.live.routes import Route
from app.resources import WEB
from app.services import services
from app.site.history import History, load_history
from app.site.i18n import language, negotiate, preferred, shipped
from app.site.metadata import HEADLINE_LENGTH, entry_path, first_image, live_blog_posting
from app.site.oembed import discovery_url
from app.site.page_data import PUBLISHED, BlogView, load_entry_view, load_view
from app.site.pagecache import PageKind, respond
from app.site.rendering import base_url, blog_id_of, local_time, render
from app.store import bylines
from app.store.db import Database

router = APIRouter(include_in_schema=False)

FEED_SIZE = 50
# The newsroom's language, as its page's picker chooses it (`?language=`).
NEWSROOM_LANGUAGE_COOKIE = "newsroom_language"
NEWSROOM_LANGUAGE_SECONDS = 365 * 24 * 3600


def _render_blog(
    request: Request, view: BlogView, before: str | None, history: History | None = None
) -> bytes:
    settings = services(request.app).settings
    base = base_url(request)
    url = f"{base}/blogs/{view.blog.slug}"
    zone = view.blog.timezone
    focus = view.focus
    card, page_url = None, url
    if focus is not None:
        page_url = base + entry_path(focus)
        card = {
            "url": page_url,
            "title": summary(focus, HEADLINE_LENGTH),
            "description": summary(focus, 200)
            if focus.headline is None
            else (plain_text(focus.html)[:200]),
            "image": first_image(focus, base),
        }
    return render(
        "blog.html",
        language(view.blog.language),
        blog=view.blog,
        view=view,
        url=url,
        card=card,
        before=before,
        history=history,
        ended=view.blog.status == BlogStatus.ended,
        upcoming=view.blog.status == BlogStatus.upcoming,
        jsonld=live_blog_posting(view, url, settings.publisher_name, base),
        oembed=discovery_url(base, page_url),
        polls=view.polls,
        now=datetime.now(UTC),
        local=lambda moment: local_time(moment, zone),
        today=datetime.now(UTC).astimezone(ZoneInfo(zone)).date(),
    ).encode()


@router.api_route(Route.PAGE.value, methods=["GET", "HEAD"])
async def blog_page(
    request: Request,
    slug: str,
    before: Annotated[str | None, Query(max_length=64)] = None,
    order: Annotated[Literal["newest", "oldest"], Query()] = "newest",
    after: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=TAG_MAX + 1)] = None,
    key_events: bool = False,
    author: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The reader's page: complete without JavaScript, live with it. `?order=oldest` reads
    it from the start (`after` pages on); `before` pages back from the latest. `tag`,
    `key_events` and `author` show only the entries they let through, and keep doing so
    live."""
    blog_id = await blog_id_of(request, slug)
    only = Filter.of(tag, key_events, author)
    db: Database = services(request.app).db
    cache = services(request.app).page_cache
    media_type = "text/html; charset=utf-8"
    if order == "oldest":
        if after is not None:  # rendered as asked, not cached
            view = await load_view(db, blog_id, after, oldest_first=True, only=only)
            return Response(_render_blog(request, view, after), media_type="text/html")

        async def render_oldest() -> tuple[int, datetime, bytes]:
            view = await load_view(db, blog_id, oldest_first=True, only=only)
            return view.offset, view.modified, _render_blog(request, view, None)

        oldest = await cache.get(
            blog_id, PageKind.OLDEST_FIRST, render_oldest, media_type, only.query
        )
        return respond(request, oldest)
    if before is not None:  # older pages are rare: rendered as asked, not cached
        view = await load_view(db, blog_id, before, only=only)
        return Response(_render_blog(request, view, before), media_type="text/html")

    async def render_latest() -> tuple[int, datetime, bytes]:
        view = await load_view(db, blog_id, only=only)
        return view.offset, view.modified, _render_blog(request, view, None)

    latest = await cache.get(blog_id, PageKind.PAGE, render_latest, media_type, only.query)
    return respond(request, latest)


class _NoEntry(Exception):
    pass


@router.api_route(Route.ENTRY_PAGE.value, methods=["GET", "HEAD"])
async def entry_page(
    request: Request, slug: str, entry_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """One entry's page, to share and to find: its own card and canonical address, the
    entries around it, and the blog, live, like the blog's page."""
    blog_id = await blog_id_of(request, slug)
    db: Database = services(request.app).db

    async def render_entry() -> tuple[int, datetime, bytes]:
        view = await load_entry_view(db, blog_id, entry_id)
        if view is None:
            raise _NoEntry
        history = None
        if view.focus is not None and view.focus.updated_at is not None:
            async with db.read() as session:
                history = await load_history(session, blog_id, entry_id)
        return view.offset, view.modified, _render_blog(request, view, None, history)

    cache = services(request.app).page_cache
    try:
        page = await cache.get(
            blog_id, PageKind.ENTRY, render_entry, "text/html; charset=utf-8", entry_id
        )
    except _NoEntry:
        async with db.read() as session:
            blog = await session.get(Blog, blog_id)
        lang = language(blog.language if blog else services(request.app).settings.default_language)
        body = render("missing.html", lang, slug=slug)
        return Response(body, status.HTTP_404_NOT_FOUND, media_type="text/html")
    return respond(request, page)


@router.api_route("/blogs/{slug}/entries/{entry_id}/history", methods=["GET", "HEAD"])
async def entry_history(
    request: Request, slug: str, entry_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """An entry's earlier versions as a fragment of its page (`section.history`), for the
    reader page to open in place."""
    blog_id = await blog_id_of(request, slug)
    db: Database = services(request.app).db

    async def render_history() -> tuple[int, datetime, bytes]:
        async with db.read() as session:
            blog = await session.get(Blog, blog_id)
            entry = await session.get(Entry, entry_id)
            if (
                blog is None
                or entry is None
                or entry.blog_id != blog_id
                or entry.status != EntryStatus.published
            ):
                raise _NoEntry
            history = await load_history(session, blog_id, entry_id)
        if history is None:
            raise _NoEntry
        zone = blog.timezone
        body = render(
            "history.html",
            language(blog.language),
            h=history,
            local=lambda moment: local_time(moment, zone),
            today=datetime.now(UTC).astimezone(ZoneInfo(zone)).date(),
        )
        return blog.last_offset, history.versions[-1].at, body.encode()

    cache = services(request.app).page_cache
    try:
        fragment = await cache.get(
            blog_id, PageKind.ENTRY_HISTORY, render_history, "text/html; charset=utf-8", entry_id
        )
    except _NoEntry:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such entry") from None
    return respond(request, fragment)


@router.api_route(Route.FEED.value, methods=["GET", "HEAD"])
async def blog_feed(request: Request, slug: str) -> Response:
    """Atom feed of the newest entries; an edit updates its entry."""
    blog_id = await blog_id_of(request, slug)
    db: Database = services(request.app).db

    async def render_feed() -> tuple[int, datetime, bytes]:
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
            public = await bylines.publics(session, entries, blog.slug)
        modified = max(
            [blog.created_at, blog.ended_at or blog.created_at]
            + [e.updated_at or e.published_at for e in public]
        )
        url = f"{base_url(request)}/blogs/{blog.slug}"
        body = render(
            "feed.atom",
            language(blog.language),
            blog=BlogPublic.of(blog),
            entries=public,
            url=url,
            updated=modified,
            websub_hub=services(request.app).settings.websub_hub_url,
        )
        return blog.last_offset, modified, body.encode()

    cache = services(request.app).page_cache
    feed = await cache.get(
        blog_id, PageKind.FEED, render_feed, "application/atom+xml; charset=utf-8"
    )
    return respond(request, feed)


@router.get("/newsroom")
async def newsroom(
    request: Request, choose: Annotated[str | None, Query(alias="language")] = None
) -> Response:
    """The newsroom's compose and curation page; everything it shows comes from the API.
    It speaks its user's language: the one chosen in it (a cookie), else the browser's.

    Its picker asks for `?language=`: the cookie is set by this answer, a redirect, because
    a browser may send the next request before a cookie written by script reaches its jar."""
    if choose is not None:
        if choose not in shipped():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"no newsroom language {choose!r}")
        redirect = RedirectResponse("/newsroom", status.HTTP_303_SEE_OTHER)
        redirect.set_cookie(
            NEWSROOM_LANGUAGE_COOKIE,
            choose,
            max_age=NEWSROOM_LANGUAGE_SECONDS,
            path="/newsroom",
            httponly=True,
            samesite="lax",
        )
        return redirect
    settings = services(request.app).settings
    chosen = request.cookies.get(NEWSROOM_LANGUAGE_COOKIE, "")
    wanted = [chosen, *preferred(request.headers.get("accept-language", ""))]
    fallback = settings.default_language
    lang = language(negotiate(wanted, fallback if fallback in shipped() else "en"))
    names = [(tag, language(tag).locale.get_display_name() or tag) for tag in shipped()]
    page = render(
        "newsroom.html",
        lang,
        languages=names,
        default_language=settings.default_language,
    )
    headers = {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"}
    return Response(page, media_type="text/html", headers=headers)


@router.get("/push-sw.js")
async def push_worker() -> FileResponse:
    """The Web Push service worker, at the root so that it may show every blog's alerts."""
    return FileResponse(
        WEB / "push-sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/embed.js")
async def embed_script() -> FileResponse:
    """`<script src="/embed.js" data-blog="slug">`: the live blog in an auto-height iframe."""
    return FileResponse(WEB / "embed.js", media_type="text/javascript")
