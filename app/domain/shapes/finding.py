"""Finding entries: a blog's tags, and search results."""

from sqlmodel import SQLModel

from app.domain.shapes.entries import EntryPublic


class TagCount(SQLModel):
    tag: str
    entries: int  # published entries that carry it


class TagList(SQLModel):
    tags: list[TagCount]  # the most used first


class SearchResult(SQLModel):
    entry: EntryPublic
    snippet: str  # HTML: the entry's text around what matched, each match in <mark>


class SearchPage(SQLModel):
    results: list[SearchResult]
    next_page: int | None  # pass back as `page` for more
