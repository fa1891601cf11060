"""What a reader is told in a notification (Web Push), and the plain text it is made of:
an entry's summary, the same line lists and screen readers get."""

import html
import re
from typing import Any

import nh3

from app.domain.shapes.entries import EntryPublic

SUMMARY_LENGTH = 90
ALERT_BODY_LENGTH = 160


def plain_text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(nh3.clean(fragment, tags=set()))).strip()


def summary(entry: EntryPublic, length: int = SUMMARY_LENGTH) -> str:
    """The entry's headline, or the start of its text (`length` characters at most)."""
    if entry.headline:
        return entry.headline
    text = plain_text(entry.html)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def key_event(blog_title: str, entry: EntryPublic) -> dict[str, Any]:
    """A key event: the blog's title, the entry's summary, a link to its own page."""
    return {
        "title": blog_title,
        "body": summary(entry, ALERT_BODY_LENGTH),
        "url": f"/blogs/{entry.blog}/entries/{entry.id}",
        "tag": f"{entry.blog}/{entry.id}",
    }


def ended(blog_title: str, slug: str, words: str) -> dict[str, Any]:
    """The blog's end (`words`: "This live blog has ended." in its language)."""
    return {"title": blog_title, "body": words, "url": f"/blogs/{slug}", "tag": f"{slug}/end"}
