"""Which of a blog's published entries a reader asked for: those with a tag, the key
events, one author's (or all of these at once). The same filter narrows the API's list and
the reader's page, and the live client applies it to new and edited entries (web/filter.js)."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlmodel import col, select

from app.domain import tags
from app.domain.models import Entry, EntryAuthor, EntryTag


@dataclass(frozen=True)
class Filter:
    tag: str | None = None
    key_events: bool = False
    author: int | None = None  # a profile's id

    @classmethod
    def of(
        cls, tag: str | None = None, key_events: bool | None = False, author: int | None = None
    ) -> "Filter":
        return cls(tag=tags.normal(tag) if tag else None, key_events=bool(key_events),
                   author=author)  # fmt: skip

    def __bool__(self) -> bool:
        return self.tag is not None or self.key_events or self.author is not None

    def conditions(self, blog_id: int) -> list[Any]:
        """SQL conditions on `Entry` for this filter (of a blog's published entries)."""
        where: list[Any] = []
        if self.tag is not None:
            tagged = select(col(EntryTag.entry_id)).where(
                col(EntryTag.blog_id) == blog_id, col(EntryTag.tag) == self.tag
            )
            where.append(col(Entry.id).in_(tagged))
        if self.key_events:
            where.append(col(Entry.key_event))
        if self.author is not None:
            bylined = select(col(EntryAuthor.entry_id)).where(
                col(EntryAuthor.blog_id) == blog_id, col(EntryAuthor.author_id) == self.author
            )
            where.append(col(Entry.id).in_(bylined))
        return where

    @property
    def query(self) -> str:
        """The filter as a URL's query (without `?`), in one spelling: a cache key, too."""
        params: list[tuple[str, str]] = []
        if self.tag is not None:
            params.append(("tag", self.tag))
        if self.key_events:
            params.append(("key_events", "1"))
        if self.author is not None:
            params.append(("author", str(self.author)))
        return urlencode(params)
