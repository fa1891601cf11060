"""The paths that are served before the framework sees them: readers' streams (by the reader
edge or the ASGI middleware), the pages the page cache answers, and readers' votes. One
table, and one test of a slug (the model's pattern), so that every matcher agrees with
what a blog's slug is.

A path segment where a slug goes matches whatever it holds: a reader asking for a slug no
blog can have is told "no such blog" (close 4404, or 404) without a query."""

import re
from dataclasses import dataclass
from enum import StrEnum

from app.domain.models import SLUG_PATTERN

_SLUG = re.compile(SLUG_PATTERN.removeprefix("^").removesuffix("$"))
_ENTRY_ID = r"[1-9][0-9]{0,9}"


class Route(StrEnum):
    """Each path as the framework's router spells it."""

    READER_SOCKET = "/ws/blogs/{slug}"
    READER_EVENTS = "/blogs/{slug}/events"
    PAGE = "/blogs/{slug}"
    FEED = "/blogs/{slug}/feed.atom"
    ENTRY_PAGE = "/blogs/{slug}/entries/{entry_id}"
    VOTE = "/api/blogs/{slug}/entries/{entry_id}/votes"


def _regex(route: Route) -> re.Pattern[str]:
    pattern = re.escape(route.value)
    pattern = pattern.replace(r"\{slug\}", "(?P<slug>[^/]+)")
    pattern = pattern.replace(r"\{entry_id\}", f"(?P<entry_id>{_ENTRY_ID})")
    return re.compile(pattern)


_MATCHERS = [(route, _regex(route)) for route in Route]


def is_slug(text: str) -> bool:
    """Whether a blog could have this slug."""
    return _SLUG.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    slug: str  # as the path has it: `is_slug` tells whether a blog could have it
    entry_id: int | None = None


def match(path: str) -> Match | None:
    """The route `path` (already percent-decoded) takes, with its slug and entry id."""
    if not path.startswith(("/blogs/", "/ws/blogs/", "/api/blogs/")):
        return None
    for route, regex in _MATCHERS:
        found = regex.fullmatch(path)
        if found is not None:
            entry_id = found.groupdict().get("entry_id")
            return Match(route, found["slug"], int(entry_id) if entry_id else None)
    return None
