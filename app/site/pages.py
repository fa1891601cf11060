"""Readers' pages and feeds, server-rendered (and cached: see pagecache.py)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select

from app.domain import search as searching
from app.domain.alerts import plain_text, summary
from app.domain.filters import Filter
from app.domain.models import Blog, BlogStatus, Entry, EntryStatus
from app.domain.paging import NEWEST_FIRST
from app.domain.shapes import BlogPublic, SearchPage
from app.domain.tags import TAG_MAX
from app.live.routes import Route
from app.resources import STATIC_VERSION, TEMPLATES, WEB
from app.services import services
from app.site.history import History, load_history
from app.site.i18n import Language, language, negotiate, preferred, shipped
from app.site.metadata import HEADLINE_LENGTH, entry_path, first_image, live_blog_posting
from app.site.oembed import discovery_url
from app.site.page_data import PUBLISHED, BlogView, load_entry_view, load_view
from app.site.pagecache import PageKind, respond
from app.store import bylines, search
from app.store.db import Database

router = APIRouter(include_in_schema=False)

FEED_SIZE = 50
SEARCH_PAGE_SIZE = 20


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "xml", "atom"]),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# The newsroom's language, as its page's picker sets it (web/newsroom/state.js).
NEWSROOM_LANGUAGE_COOKIE = "newsroom_language"


def render(name: str, lang: Language, **context: Any) -> str:
    """A template in `lang`: its words (`_`, `{% trans %}`), `<html lang dir>`, dates."""
    words = {"lang": lang, "_": lang.gettext, "gettext": lang.gettext, "ngettext": lang.ngettext}
    return templates.get_template(name).render(**words, **context)


async def blog_language(request: Request, slug: str) -> Language:
    """The language of the blog's pages (the default for a blog that is not there)."""
    parts = services(request.app)
    async with parts.db.read() as session:
        tag = await session.scalar(select(col(Blog.language)).where(col(Blog.slug) == slug))
    return language(tag or parts.settings.default_language)


def script_json(value: Any) -> str:
    """JSON that can sit inside <script>: nothing in it can close the tag or open a comment."""
    text = orjson.dumps(value).decode()
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def local_time(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


templates.filters["script_json"] = script_json
templates.globals["static"] = lambda path: f"/static/{STATIC_VERSION}/{path}"
templates.filters["plain_text"] = plain_text
templates.filters["summary"] = summary
# A time as the API's JSON writes it (the client compares the page's with the events').
templates.filters["wire_time"] = lambda moment: moment.isoformat().replace("+00:00", "Z")


def _base_url(request: Request) -> str:
    public: str = services(request.app).settings.public_url
    return (public or str(request.base_url)).rstrip("/")


async def _blog_id(request: Request, slug: str) -> int:
    blog_id = await services(request.app).hub.resolve(slug)
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    return int(blog_id)


def _render_blog(
    request: Request, view: BlogView, before: str | None, history: History | None = None
) -> bytes:
    settings = services(request.app).settings
    base = _base_url(request)
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
    blog_id = await _blog_id(request, slug)
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
    blog_id = await _blog_id(request, slug)
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
    blog_id = await _blog_id(request, slug)
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
    blog_id = await _blog_id(request, slug)
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
        url = f"{_base_url(request)}/blogs/{blog.slug}"
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


@router.get("/blogs/{slug}/search")
async def blog_search_page(
    request: Request,
    slug: str,
    q: Annotated[str, Query(max_length=searching.QUERY_MAX)] = "",
    page: Annotated[int, Query(ge=1, le=searching.PAGES_MAX)] = 1,
) -> Response:
    """Search within a blog, as a page that works without JavaScript."""
    blog_id = await _blog_id(request, slug)
    async with services(request.app).db.read() as session:
        blog = await session.get(Blog, blog_id)
        assert blog is not None
        found = await search.page(session, [blog], q, page, SEARCH_PAGE_SIZE) if q else None
    url = f"{_base_url(request)}/blogs/{blog.slug}"
    return _search_page(request, language(blog.language), q, page, found, [blog], url)


@router.get("/search")
async def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=searching.QUERY_MAX)] = "",
    page: Annotated[int, Query(ge=1, le=searching.PAGES_MAX)] = 1,
) -> Response:
    """Search every blog, as a page that works without JavaScript."""
    async with services(request.app).db.read() as session:
        blogs = list(await session.scalars(select(Blog).order_by(col(Blog.id))))
        found = await search.page(session, blogs, q, page, SEARCH_PAGE_SIZE) if q else None
    lang = language(services(request.app).settings.default_language)
    return _search_page(request, lang, q, page, found, blogs, None)


def _search_page(
    request: Request,
    lang: Language,
    q: str,
    page: int,
    found: SearchPage | None,
    blogs: list[Blog],
    url: str | None,
) -> Response:
    zones = {blog.slug: ZoneInfo(blog.timezone) for blog in blogs}
    body = render(
        "search.html",
        lang,
        q=q.strip(),
        blog=BlogPublic.of(blogs[0]) if url else None,
        url=url,
        results=found.results if found else [],
        next_page=found.next_page if found else None,
        first=(page - 1) * SEARCH_PAGE_SIZE + 1,
        titles={blog.slug: blog.title for blog in blogs},
        local=lambda slug: lambda moment: moment.astimezone(zones[slug]),
        today=lambda slug: datetime.now(UTC).astimezone(zones[slug]).date(),
    )
    return Response(body, media_type="text/html", headers={"Cache-Control": "no-cache"})


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
    settings = services(request.app).settings
    page = render(
        "index.html", language(settings.default_language), blogs=[BlogPublic.of(b) for b in blogs]
    )
    return Response(page, media_type="text/html")


SITEMAP_MAX = 45_000  # a sitemap holds at most 50,000 addresses
NEWS_DAYS = 2  # Google News lists articles of the last two days


@router.get("/sitemap.xml")
async def sitemap(request: Request) -> Response:
    """Every blog and every published entry's page, with when each last changed; blogs
    changed in the last two days carry Google News tags."""
    db: Database = services(request.app).db
    async with db.read() as session:
        blogs = list(await session.scalars(select(Blog).order_by(col(Blog.created_at).desc())))
        rows = await session.execute(
            select(
                col(Entry.id), col(Entry.blog_id), col(Entry.published_at), col(Entry.updated_at)
            )
            .where(PUBLISHED)
            .order_by(*NEWEST_FIRST)
            .limit(SITEMAP_MAX)
        )
    slugs = {blog.id: blog.slug for blog in blogs}
    entries = []
    lastmod: dict[int, datetime] = {}
    for entry_id, blog_id, published_at, updated_at in rows:
        changed = updated_at or published_at
        entries.append({"id": entry_id, "slug": slugs[blog_id], "lastmod": changed})
        lastmod[blog_id] = max(lastmod.get(blog_id, changed), changed)
    recent = datetime.now(UTC) - timedelta(days=NEWS_DAYS)
    listed = []
    for blog in blogs:
        assert blog.id is not None
        changed = max(lastmod.get(blog.id, blog.created_at), blog.ended_at or blog.created_at)
        listed.append(
            {"slug": blog.slug, "title": blog.title, "created_at": blog.created_at,
             "lastmod": changed, "news": changed >= recent,
             "language": language(blog.language).code}
        )  # fmt: skip
    body = templates.get_template("sitemap.xml").render(
        base=_base_url(request),
        blogs=listed,
        entries=entries,
        publisher=services(request.app).settings.publisher_name,
    )
    return Response(body, media_type="application/xml")


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    lines = ["User-agent: *", "Disallow: /api/", "Disallow: /newsroom", "Disallow: /ws/",
             "", f"Sitemap: {_base_url(request)}/sitemap.xml", ""]  # fmt: skip
    return Response("\n".join(lines), media_type="text/plain")


@router.get("/newsroom")
async def newsroom(request: Request) -> Response:
    """The newsroom's compose and curation page; everything it shows comes from the API.
    It speaks its user's language: the one chosen in it (a cookie), else the browser's."""
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
