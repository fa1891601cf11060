"""What a page says about itself to search engines and social networks: an entry's card
(its summary, first image, address) and the schema.org `LiveBlogPosting` JSON-LD."""

import html
import re
from typing import Any

from app.domain.alerts import plain_text, summary
from app.domain.shapes.blogs import ResultsBox
from app.domain.shapes.entries import EntryPublic
from app.site.page_data import BlogView

IMAGE = re.compile(r'<img[^>]*\ssrc="([^"]+)"')


def absolute(url: str, base: str) -> str:
    return base + url if url.startswith("/") else url


def first_image(entry: EntryPublic, base: str) -> str | None:
    found = IMAGE.search(entry.html)
    return absolute(html.unescape(found.group(1)), base) if found else None


def entry_path(entry: EntryPublic) -> str:
    return f"/blogs/{entry.blog}/entries/{entry.id}"


# An entry's line in lists (key events, what screen readers are told of a new one); the web
# client cuts it the same way (web/events.js: SUMMARY_LENGTH).
# A headline for search engines and cards: Google reads up to 110 characters.
HEADLINE_LENGTH = 110


def people(entry: EntryPublic, base: str) -> list[dict[str, Any]]:
    """The entry's authors as schema.org Persons (its token's name when it names none)."""
    if not entry.authors:
        return [{"@type": "Person", "name": entry.author}]
    found = []
    for author in entry.authors:
        person: dict[str, Any] = {"@type": "Person", "name": author.name}
        if author.role:
            person["jobTitle"] = author.role
        if author.photo_url:
            photo = author.photo_url
            person["image"] = base + photo if photo.startswith("/") else photo
        if author.url:
            person["url"] = author.url
        found.append(person)
    return found


def live_blog_posting(view: BlogView, url: str, publisher: str, base: str) -> dict[str, Any]:
    blog = view.blog
    updates = []
    for entry in view.latest if view.latest is not None else view.entries:
        update: dict[str, Any] = {
            "@type": "BlogPosting",
            "headline": summary(entry, HEADLINE_LENGTH),
            "datePublished": entry.published_at.isoformat(),
            "dateModified": (entry.updated_at or entry.published_at).isoformat(),
            "articleBody": plain_text(entry.html),
            "url": base + entry_path(entry),
            "author": people(entry, base),
        }
        if (image := first_image(entry, base)) is not None:
            update["image"] = image
        if entry.corrections:
            corrections = [
                {"@type": "CorrectionComment", "text": c.note, "datePublished": c.at.isoformat()}
                for c in entry.corrections
            ]
            update["correction"] = corrections[0] if len(corrections) == 1 else corrections
        updates.append(update)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": blog.title,
        "description": blog.description,
        "inLanguage": blog.language,
        "url": url,
        "datePublished": blog.created_at.isoformat(),
        "dateModified": view.modified.isoformat(),
        "coverageStartTime": (blog.starts_at or blog.created_at).isoformat(),
        "publisher": {"@type": "Organization", "name": publisher},
        "liveBlogUpdate": updates,
    }
    if blog.ended_at is not None:
        data["coverageEndTime"] = blog.ended_at.isoformat()
    if blog.box is not None:
        data["hasPart"] = {
            "@type": "WebPageElement",
            "cssSelector": ".results-box",
            "name": blog.box.title,
            "text": box_text(blog.box),
        }
    return data


def box_text(box: ResultsBox) -> str:
    """The results box as one line of text: "Arsenal 2 – 1 Chelsea (Half time)", or
    "Labour: 326; Conservative: 121 (Turnout 61%)"."""
    if box.kind == "score":
        home, away = box.rows
        text = f"{home.label} {home.value} – {away.value} {away.label}"
    else:
        text = "; ".join(
            f"{row.label}: {row.value}" if row.value else row.label for row in box.rows
        )
    return f"{text} ({box.note})" if box.note else text
