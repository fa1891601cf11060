"""Tables, and the shapes the API reads (Create/Update) and writes (Public)."""

import secrets
import zoneinfo
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import JSON, DateTime, Index, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from app.domain.languages import language_tag

# Limits a client can rely on; docs/API.md and the README repeat them.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
TITLE_MAX = 200
DESCRIPTION_MAX = 2_000
NOTICE_MAX = 1_000
HEADLINE_MAX = 200
BODY_MAX = 20_000
NAME_MAX = 100
CORRECTION_MAX = 500
REVIEW_NOTE_MAX = 1_000
LANGUAGE_MAX = 64
EPOCH_MAX = 32  # an epoch is opaque: at most this many of [0-9a-z]
IDEMPOTENCY_KEY_MAX = 255

# Named constraints, so that migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL, and no human wrote one: refuse it everywhere.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _trim(value: str) -> str:
    return value.strip()


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


# Limits apply to the text as sent (as the OpenAPI document says), then surrounding
# white space is trimmed; required text must not be blank once trimmed.
Trimmed = AfterValidator(_trim)
NotBlank = AfterValidator(_not_blank)


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length)


def _iso_text(value: object) -> object:
    # Pydantic would read a number as a Unix time; the API speaks ISO 8601 only.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date and time with a time zone")
    return value


NoNul = AfterValidator(_no_nul)
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
Title = Annotated[str, _text(TITLE_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Description = Annotated[str, _text(DESCRIPTION_MAX), Trimmed, NoNul]
Notice = Annotated[str, _text(NOTICE_MAX), Trimmed, NoNul]
Headline = Annotated[str, _text(HEADLINE_MAX), Trimmed, NoNul]
Body = Annotated[str, _text(BODY_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Name = Annotated[str, _text(NAME_MAX, min_length=1), Trimmed, NotBlank, NoNul]
CorrectionNote = Annotated[str, _text(CORRECTION_MAX, min_length=1), Trimmed, NotBlank, NoNul]
ReviewNote = Annotated[str, _text(REVIEW_NOTE_MAX, min_length=1), Trimmed, NotBlank, NoNul]


LanguageTag = Annotated[str, _text(LANGUAGE_MAX, min_length=1), AfterValidator(language_tag)]


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class BlogStatus(StrEnum):
    live = "live"
    ended = "ended"


class AudiencePublic(SQLModel):
    readers: int  # connected now, WebSocket and SSE, on every instance
    instances: int  # instances whose readers are counted
    at: datetime  # when the count was taken (every AUDIENCE_SECONDS)


class EntryStatus(StrEnum):
    published = "published"
    draft = "draft"  # seen only in the newsroom, until published
    scheduled = "scheduled"  # published by the server at `publish_at`
    submitted = "submitted"  # a contributor's, waiting for an editor's approval
    returned = "returned"  # sent back to its contributor with a `review_note`


class Role(StrEnum):
    admin = "admin"
    editor = "editor"
    reporter = "reporter"
    contributor = "contributor"  # submits entries; an editor approves them


# --- tables -------------------------------------------------------------------------------


def new_epoch() -> str:
    return secrets.token_hex(8)


class Blog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", sa_type=Text)
    notice: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=BlogStatus.live, max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    # BCP 47: the language of its pages, feed and live client (app/site/i18n.py).
    language: str = Field(default="en", max_length=LANGUAGE_MAX)
    # Readers see how many read it with them ("1,234 reading"); the newsroom always does.
    show_audience: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The offset of the blog's latest event; bumped in the transaction of each change.
    last_offset: int = Field(default=0)
    # Which stream the offsets count: made with the blog and anew whenever its log could
    # restart (a restore), so that an offset from before never resumes a different stream.
    epoch: str = Field(default_factory=new_epoch, max_length=EPOCH_MAX)


class Entry(SQLModel, table=True):
    __table_args__ = (
        Index("ix_entry_blog_published", "blog_id", "published_at", "id"),
        Index("ix_entry_status_publish_at", "status", "publish_at"),
        # An id is never handed out twice (SQLite would reuse the newest's after a delete):
        # entry pages are shared by their id.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE")
    headline: str | None = Field(default=None, max_length=HEADLINE_MAX)
    body: str = Field(sa_type=Text)
    html: str = Field(sa_type=Text)
    key_event: bool = False
    pinned: bool = False
    author: str = Field(max_length=NAME_MAX)
    author_token_id: int | None = Field(
        default=None, foreign_key="apitoken.id", ondelete="SET NULL", index=True
    )
    # Drafts and scheduled entries take `published_at` when they are published.
    published_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    status: str = Field(
        default=EntryStatus.published,
        max_length=16,
        sa_column_kwargs={"server_default": EntryStatus.published.value},
    )
    publish_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Each correction's note, time and the version it made, oldest first (CorrectionPublic).
    corrections: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # An editor's note to the contributor when a submission is returned; gone once published.
    review_note: str | None = Field(default=None, sa_type=Text)


class Event(SQLModel, table=True):
    """The per-blog event log: what readers replay from an offset, and each entry's
    history. Nothing ever rewrites or removes a logged event."""

    __table_args__ = (Index("ix_event_blog_entry", "blog_id", "entry_id", "offset"),)

    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE", primary_key=True)
    offset: int = Field(primary_key=True)
    type: str = Field(max_length=32)
    # The entry an entry.* event is about: an entry's history is read by it.
    entry_id: int | None = Field(default=None)
    # The event exactly as it goes on the wire, so a replay sends stored bytes as they are.
    data: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a post made with an Idempotency-Key, replayed on retries."""

    token_id: int = Field(foreign_key="apitoken.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(max_length=IDEMPOTENCY_KEY_MAX, primary_key=True)
    fingerprint: str = Field(max_length=64)
    response: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


# --- API shapes ---------------------------------------------------------------------------


class Input(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class BlogCreate(Input):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
    title: Title
    description: Description = ""
    timezone: str = "UTC"
    language: LanguageTag | None = None  # DEFAULT_LANGUAGE when not given

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
        )


class BlogList(SQLModel):
    blogs: list[BlogPublic]


def _publication(status: EntryStatus | None, publish_at: datetime | None) -> None:
    if publish_at is not None and status not in (None, EntryStatus.scheduled):
        raise ValueError(f"publish_at is for scheduled entries, not {status} ones")
    if status == EntryStatus.scheduled and publish_at is None:
        raise ValueError("a scheduled entry needs publish_at")


class EntryCreate(Input):
    headline: Headline | None = None
    body: Body
    key_event: StrictBool = False
    pinned: StrictBool = False
    # "draft" keeps it in the newsroom; `publish_at` schedules it (status "scheduled").
    status: EntryStatus | None = None
    publish_at: Moment | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "EntryCreate":
        _publication(self.status, self.publish_at)
        return self


class EntryUpdate(Input):
    headline: Headline | None = None
    body: Body | None = None
    key_event: StrictBool | None = None
    pinned: StrictBool | None = None
    # A draft or scheduled entry may be published ("published"), kept back ("draft") or
    # (re)scheduled (`publish_at`); a published one stays published.
    status: EntryStatus | None = None
    publish_at: Moment | None = None
    # Shown to readers with the edit: "Correction: <note>" (a published entry's text only).
    correction: CorrectionNote | None = None
    # Why a submission goes back to its contributor (with `status: "returned"`).
    review_note: ReviewNote | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "EntryUpdate":
        _publication(self.status, self.publish_at)
        return self


class EntryPreviewRequest(Input):
    body: Body


class EntryPreview(SQLModel):
    html: str


class CorrectionPublic(SQLModel):
    note: str
    at: datetime
    version: int  # the entry's version the corrected text first appeared in


class EntryPublic(SQLModel):
    id: int
    blog: str
    headline: str | None
    body: str
    html: str
    key_event: bool
    pinned: bool
    author: str
    published_at: datetime
    updated_at: datetime | None
    version: int
    status: EntryStatus = EntryStatus.published
    publish_at: datetime | None = None
    corrections: list[CorrectionPublic] = []
    review_note: str | None = None  # to a contributor, on a returned submission

    @classmethod
    def of(cls, entry: Entry, blog_slug: str) -> "EntryPublic":
        assert entry.id is not None
        return cls(
            id=entry.id,
            blog=blog_slug,
            headline=entry.headline or None,
            body=entry.body,
            html=entry.html,
            key_event=entry.key_event,
            pinned=entry.pinned,
            author=entry.author,
            published_at=entry.published_at,
            updated_at=entry.updated_at,
            version=entry.version,
            status=EntryStatus(entry.status),
            publish_at=entry.publish_at,
            corrections=[CorrectionPublic.model_validate(c) for c in entry.corrections or ()],
            review_note=entry.review_note,
        )


class EntryPage(SQLModel):
    entries: list[EntryPublic]
    next: str | None


class TokenCreate(Input):
    name: Name
    role: Role


class TokenPublic(SQLModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> "TokenPublic":
        assert token.id is not None
        return cls(
            id=token.id,
            name=token.name,
            role=Role(token.role),
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenPublic):
    token: str  # shown in this answer and never again


class TokenList(SQLModel):
    tokens: list[TokenPublic]
