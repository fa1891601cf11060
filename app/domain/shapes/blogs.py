"""A blog as the API reads and writes it, with its results box and its audience."""

import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from pydantic import StrictBool, StringConstraints, field_validator, model_validator
from sqlmodel import Field, SQLModel

from app.domain.models import BOX_ROWS_MAX, SLUG_PATTERN, Blog, BlogStatus
from app.domain.shapes.base import Input
from app.domain.text import (
    BoxLabel,
    BoxNote,
    BoxTitle,
    BoxValue,
    Description,
    LanguageTag,
    Notice,
    Title,
    UtcMoment,
)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class AudiencePublic(SQLModel):
    readers: int  # connected now, WebSocket and SSE, on every instance
    instances: int  # instances whose readers are counted
    at: datetime  # when the count was taken (every AUDIENCE_SECONDS)


class BlogCreate(Input):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
    title: Title
    description: Description = ""
    timezone: str = "UTC"
    language: LanguageTag | None = None  # DEFAULT_LANGUAGE when not given
    starts_at: UtcMoment | None = None  # announced: the blog is upcoming until its first entry

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError("unknown IANA time zone, e.g. Europe/London")
        return value


class BlogUpdate(Input):
    title: Title | None = None
    description: Description | None = None
    notice: Notice | None = None
    status: BlogStatus | None = None
    language: LanguageTag | None = None
    show_audience: StrictBool | None = None
    accepts_questions: StrictBool | None = None
    starts_at: UtcMoment | None = None


class BoxRow(Input):
    label: BoxLabel
    value: BoxValue = ""


class ResultsBox(Input):
    """What a blog shows above its feed: a `score` (two rows: each side and its points) or
    `rows` of label and value (seats, medals, turnout), with a title and a note."""

    kind: Literal["score", "rows"]
    title: BoxTitle = ""
    rows: Annotated[list[BoxRow], Field(min_length=1, max_length=BOX_ROWS_MAX)]
    note: BoxNote = ""

    @model_validator(mode="after")
    def _a_score_has_two_sides(self) -> "ResultsBox":
        if self.kind == "score" and len(self.rows) != 2:
            raise ValueError("a score has two rows: each side and its points")
        return self


class BlogPublic(SQLModel):
    slug: str
    title: str
    description: str
    notice: str | None
    status: BlogStatus
    timezone: str
    language: str
    show_audience: bool
    created_at: datetime
    ended_at: datetime | None
    offset: int
    epoch: str
    box: ResultsBox | None = None
    accepts_questions: bool = False
    starts_at: datetime | None = None
    archived_at: datetime | None = None

    @classmethod
    def of(cls, blog: Blog) -> "BlogPublic":
        return cls(
            slug=blog.slug,
            title=blog.title,
            description=blog.description,
            notice=blog.notice or None,
            status=BlogStatus(blog.status),
            timezone=blog.timezone,
            language=blog.language,
            show_audience=blog.show_audience,
            created_at=blog.created_at,
            ended_at=blog.ended_at,
            offset=blog.last_offset,
            epoch=blog.epoch,
            box=ResultsBox.model_validate(blog.box) if blog.box else None,
            accepts_questions=blog.accepts_questions,
            starts_at=blog.starts_at,
            archived_at=blog.archived_at,
        )


class BlogList(SQLModel):
    blogs: list[BlogPublic]
