"""Rendering readers' pages: the Jinja2 templates in a blog's language with the filters
they share, and what every page asks of its request: the site's public address (for the
links it carries) and the blog its slug names."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import HTTPException, Request, status
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select

from app.domain.alerts import plain_text, summary
from app.domain.models import Blog
from app.resources import STATIC_VERSION, TEMPLATES
from app.services import services
from app.site.i18n import Language, language

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "xml", "atom"]),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)


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


def base_url(request: Request) -> str:
    public: str = services(request.app).settings.public_url
    return (public or str(request.base_url)).rstrip("/")


async def blog_id_of(request: Request, slug: str) -> int:
    blog_id = await services(request.app).hub.resolve(slug)
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    return int(blog_id)
