"""The tables, their limits and their statuses; the API's shapes are in shapes/."""

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from app.domain.tags import TAG_STORED_MAX

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
# A blog's results box: a score (two rows) or up to BOX_ROWS_MAX rows of label and value.
BOX_TITLE_MAX = 100
BOX_LABEL_MAX = 100
BOX_VALUE_MAX = 40
BOX_NOTE_MAX = 200
BOX_ROWS_MAX = 20
PUSH_ENDPOINT_MAX = 1_024  # a Web Push subscription's endpoint URL
# Polls: an entry may ask readers to choose one of these many options.
POLL_OPTIONS_MIN = 2
POLL_OPTIONS_MAX = 6
POLL_OPTION_MAX = 100
VOTER_MAX = 64  # a voter is the SHA-256 of the reader's cookie, in hex
# Bylines: author profiles, several to an entry.
AUTHORS_MAX = 10  # on one entry
AUTHOR_ROLE_MAX = 100  # "Kyiv correspondent"
URL_MAX = 1_024
# Readers' questions to the newsroom.
QUESTION_MAX = 500
ASKER_MAX = 60

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


class BlogStatus(StrEnum):
    upcoming = "upcoming"  # announced for `starts_at`; live with its first entry
    live = "live"
    ended = "ended"


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


def no_items() -> list[Any]:
    # Not `list`: a table's constructor asks pydantic, for each default factory, whether it
    # takes the data (inspect.signature, each time), and a builtin's costs ~70 µs to parse.
    return []


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
    # When coverage starts: as announced while upcoming, then when it went live.
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # An ended blog is archived after ARCHIVE_AFTER_DAYS: a still page, no live readers.
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The offset of the blog's latest event; bumped in the transaction of each change.
    last_offset: int = Field(default=0)
    # Which stream the offsets count: made with the blog and anew whenever its log could
    # restart (a restore), so that an offset from before never resumes a different stream.
    epoch: str = Field(default_factory=new_epoch, max_length=EPOCH_MAX)
    # The results box above the feed (shapes/blogs.py: ResultsBox), or None: a state, the latest
    # of which every reader is shown.
    box: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Readers may send the newsroom questions (off until an admin turns it on).
    accepts_questions: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


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
    corrections: list[dict[str, Any]] = Field(default_factory=no_items, sa_type=JSON)
    # An editor's note to the contributor when a submission is returned; gone once published.
    review_note: str | None = Field(default=None, sa_type=Text)
    # A poll the entry carries (shapes/polls.py: PollPublic, without its results), or None:
    # {"options": [...], "closes_at": ISO time or None, "closed_at": ISO time or None}.
    poll: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # Its tags, as shown (app/domain/tags.py): those the newsroom gave, then its #hashtags.
    tags: list[str] = Field(
        default_factory=no_items, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )
    given_tags: list[str] = Field(
        default_factory=no_items, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )
    # Its byline: author profiles' ids, in order (shown by their current names); none: the
    # posting token's name (`author`).
    author_ids: list[int] = Field(
        default_factory=no_items, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )


class EntryTag(SQLModel, table=True):
    """A published entry's tag, to filter by (kept with the entry's events: entry_index.py)."""

    __table_args__ = (Index("ix_entrytag_blog_tag", "blog_id", "tag", "entry_id"),)

    entry_id: int = Field(foreign_key="entry.id", ondelete="CASCADE", primary_key=True)
    tag: str = Field(max_length=TAG_STORED_MAX, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE")


class EntryAuthor(SQLModel, table=True):
    """A published entry's author, to filter by (kept with the entry's events, as tags)."""

    __table_args__ = (Index("ix_entryauthor_blog_author", "blog_id", "author_id", "entry_id"),)

    entry_id: int = Field(foreign_key="entry.id", ondelete="CASCADE", primary_key=True)
    author_id: int = Field(foreign_key="author.id", ondelete="CASCADE", primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE")


class Author(SQLModel, table=True):
    """An author profile: a byline as readers see it. Admins keep them; a token may be tied
    to one, whose entries then carry it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    role: str = Field(default="", max_length=AUTHOR_ROLE_MAX)  # what they do: "Data editor"
    photo_url: str | None = Field(default=None, max_length=URL_MAX)
    url: str | None = Field(default=None, max_length=URL_MAX)  # their page
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Vote(SQLModel, table=True):
    """One reader's vote in an entry's poll: which option, and nothing else of them but
    the hash of their cookie (one vote each)."""

    entry_id: int = Field(foreign_key="entry.id", ondelete="CASCADE", primary_key=True)
    voter: str = Field(max_length=VOTER_MAX, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE", index=True)
    option: int


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


class Question(SQLModel, table=True):
    """A reader's question, until the newsroom answers (an entry quotes it) or dismisses it:
    what is shown, and when it came. Nothing of who sent it is kept."""

    id: int | None = Field(default=None, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE", index=True)
    text: str = Field(sa_type=Text)
    name: str = Field(max_length=ASKER_MAX)
    asked_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The profile its entries are bylined with (unless an entry names its authors). Read
    # with the token, so a post costs no query more. Not a foreign key (SQLite could add
    # one only by rebuilding the table, which would cascade): deleting a profile unties
    # its tokens in the same transaction (app/store/bylines.py).
    author_id: int | None = Field(default=None)


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a post made with an Idempotency-Key, replayed on retries."""

    token_id: int = Field(foreign_key="apitoken.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(max_length=IDEMPOTENCY_KEY_MAX, primary_key=True)
    fingerprint: str = Field(max_length=64)
    response: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class PushKey(SQLModel, table=True):
    """The server's VAPID key pair (RFC 8292), one for every instance: made by `liveupdates
    vapid` or at first start, and kept (browsers' subscriptions are bound to it)."""

    id: int = Field(default=1, primary_key=True)
    private_key: str = Field(max_length=64)  # the P-256 private number, base64url
    public_key: str = Field(max_length=128)  # the uncompressed point, base64url
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class PushSubscription(SQLModel, table=True):
    """A browser's Web Push subscription to a blog's key events: where its push service
    takes messages for it, and the keys they are encrypted to (RFC 8291)."""

    __table_args__ = (
        Index("ux_pushsubscription_blog_endpoint", "blog_id", "endpoint", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE")
    endpoint: str = Field(max_length=PUSH_ENDPOINT_MAX)
    p256dh: str = Field(max_length=128)
    auth: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)


class PushJob(SQLModel, table=True):
    """One notification for a blog's subscribers, logged with the change that caused it;
    instances take its subscribers in chunks (`sent_upto`), so each gets it once."""

    id: int | None = Field(default=None, primary_key=True)
    blog_id: int = Field(foreign_key="blog.id", ondelete="CASCADE", index=True)
    message: dict[str, Any] = Field(sa_type=JSON)  # title, body, url, tag: the payload
    upto: int  # the last subscription it is for: later ones did not ask yet
    sent_upto: int = 0  # subscriptions up to this id have been taken by a sender
    created_at: datetime = Field(default_factory=now, sa_type=UTCDateTime)
