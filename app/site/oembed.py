"""oEmbed (https://oembed.com): a CMS given the address of a blog or an entry page asks
`/oembed?url=…` and gets the page as a frame to embed. Pages name this endpoint in a
discovery link (`discovery_url`)."""

from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from markupsafe import escape
from sqlmodel import col, select

from app.domain.alerts import summary
from app.domain.models import Blog, Entry, EntryStatus
from app.domain.shapes.entries import EntryPublic
from app.live.routes import Route
from app.live.routes import match as match_route
from app.services import services
from app.site.metadata import HEADLINE_LENGTH

router = APIRouter(include_in_schema=False)

WIDTH = 640  # what a frame is given when the consumer sets no bound
HEIGHTS = {Route.PAGE: 800, Route.ENTRY_PAGE: 480}
CACHE_SECONDS = 3600


def discovery_url(base: str, page_url: str) -> str:
    """The address of the page's oEmbed answer, for its `<link rel="alternate">`."""
    return f"{base}/oembed?{urlencode({'url': page_url, 'format': 'json'})}"


@router.get("/oembed")
async def oembed(
    request: Request,
    url: Annotated[str, Query(max_length=2048)],
    format: Literal["json", "xml"] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> JSONResponse:
    """The embed of a blog or entry page of this server: `type` "rich", an iframe of the
    page no larger than `maxwidth` × `maxheight`. 404 for any other address; 501 for XML."""
    if format != "json":
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "only format=json is served")
    settings = services(request.app).settings
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    asked = urlsplit(url)
    found = match_route(asked.path)
    if (
        asked.scheme not in ("http", "https")
        or asked.netloc.lower() != urlsplit(base).netloc.lower()
        or found is None
        or found.route not in HEIGHTS
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a blog or entry page of this server")
    async with services(request.app).db.read() as session:
        blog = (await session.scalars(select(Blog).where(col(Blog.slug) == found.slug))).first()
        entry = None
        if blog is not None and found.entry_id is not None:
            entry = await session.get(Entry, found.entry_id)
    if blog is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {found.slug!r}")
    src, title = f"{base}/blogs/{blog.slug}", blog.title
    if found.route is Route.ENTRY_PAGE:
        if entry is None or entry.blog_id != blog.id or entry.status != EntryStatus.published:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such entry")
        src = f"{src}/entries/{entry.id}"
        title = summary(EntryPublic.of(entry, blog.slug, {}), HEADLINE_LENGTH)
    width = min(WIDTH, maxwidth or WIDTH)
    height = min(HEIGHTS[found.route], maxheight or HEIGHTS[found.route])
    frame = (
        f'<iframe src="{escape(src)}" width="{width}" height="{height}" title="{escape(title)}"'
        ' loading="lazy" style="border:0;max-width:100%"></iframe>'
    )
    return JSONResponse(
        {
            "version": "1.0",
            "type": "rich",
            "title": title,
            "provider_name": settings.publisher_name,
            "provider_url": base + "/",
            "cache_age": CACHE_SECONDS,
            "html": frame,
            "width": width,
            "height": height,
        },
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )
