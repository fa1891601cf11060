"""Finding entries: a blog's tags, and search within a blog or across every blog."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from app.api.deps import BlogDep, SessionDep
from app.api.errors import errors
from app.domain import search as searching
from app.domain.models import Blog
from app.domain.shapes.finding import SearchPage, TagCount, TagList
from app.store import entry_index, search

router = APIRouter(tags=["finding"])

TAGS_LISTED = 50
QueryText = Annotated[str, Query(min_length=1, max_length=searching.QUERY_MAX)]
Page = Annotated[int, Query(ge=1, le=searching.PAGES_MAX)]
Limit = Annotated[int, Query(ge=1, le=50)]


@router.get("/api/blogs/{slug}/tags", response_model=TagList, responses=errors(404))
async def blog_tags(blog: BlogDep, session: SessionDep) -> TagList:
    """The blog's tags, the most used first, each with how many published entries carry it."""
    assert blog.id is not None
    counted = await entry_index.top_tags(session, blog.id, TAGS_LISTED)
    return TagList(tags=[TagCount(tag=tag, entries=entries) for tag, entries in counted])


@router.get("/api/blogs/{slug}/search", response_model=SearchPage, responses=errors(404))
async def search_blog(
    blog: BlogDep, session: SessionDep, q: QueryText, page: Page = 1, limit: Limit = 20
) -> SearchPage:
    """Published entries of the blog matching `q`, best first: words (stemmed in the blog's
    language), `"a phrase"`, `-excluded`, `a OR b`. Each with a snippet, matches marked."""
    return await search.page(session, [blog], q, page, limit)


@router.get("/api/search", response_model=SearchPage, responses=errors())
async def search_all(
    session: SessionDep, q: QueryText, page: Page = 1, limit: Limit = 20
) -> SearchPage:
    """Published entries of every blog matching `q`, best first (as a blog's search)."""
    blogs = list(await session.scalars(select(Blog).order_by(col(Blog.id))))
    return await search.page(session, blogs, q, page, limit)
