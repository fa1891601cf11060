"""Search pages, for one blog or every blog: they work without JavaScript."""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, select

from app.domain import search as searching
from app.domain.models import Blog
from app.domain.shapes.blogs import BlogPublic
from app.domain.shapes.finding import SearchPage
from app.services import services
from app.site.i18n import Language, language
from app.site.rendering import base_url, blog_id_of, render
from app.store import search

router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 20


@router.get("/blogs/{slug}/search")
async def blog_search_page(
    request: Request,
    slug: str,
    q: Annotated[str, Query(max_length=searching.QUERY_MAX)] = "",
    page: Annotated[int, Query(ge=1, le=searching.PAGES_MAX)] = 1,
) -> Response:
    """Search within a blog, as a page that works without JavaScript."""
    blog_id = await blog_id_of(request, slug)
    async with services(request.app).db.read() as session:
        blog = await session.get(Blog, blog_id)
        assert blog is not None
        found = await search.page(session, [blog], q, page, SEARCH_PAGE_SIZE) if q else None
    url = f"{base_url(request)}/blogs/{blog.slug}"
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
