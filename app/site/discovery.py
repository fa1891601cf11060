"""How readers and crawlers find the blogs: the index, the sitemap, robots.txt."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from app.domain.models import Blog, BlogStatus, Entry
from app.domain.paging import NEWEST_FIRST
from app.domain.shapes.blogs import BlogPublic
from app.services import services
from app.site.i18n import language
from app.site.page_data import PUBLISHED
from app.site.rendering import base_url, render, templates
from app.store.db import Database

router = APIRouter(include_in_schema=False)


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
        base=base_url(request),
        blogs=listed,
        entries=entries,
        publisher=services(request.app).settings.publisher_name,
    )
    return Response(body, media_type="application/xml")


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    lines = ["User-agent: *", "Disallow: /api/", "Disallow: /newsroom", "Disallow: /ws/",
             "", f"Sitemap: {base_url(request)}/sitemap.xml", ""]  # fmt: skip
    return Response("\n".join(lines), media_type="text/plain")
