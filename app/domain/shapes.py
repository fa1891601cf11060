"""The shapes the API reads (Create/Update) and writes (Public); what their text may be is
text.py's."""

import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlmodel import Field, SQLModel

from app.domain.models import (
    AUTHORS_MAX,
    BOX_ROWS_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    PUSH_ENDPOINT_MAX,
    SLUG_PATTERN,
    ApiToken,
    Author,
    Blog,
    BlogStatus,
    Entry,
    EntryStatus,
    Question,
    Role,
)
from app.domain.tags import TAGS_MAX
from app.domain.text import (
    Answer,
    AskerName,
    AuthorRole,
    Body,
    BoxLabel,
    BoxNote,
    BoxTitle,
    BoxValue,
    CorrectionNote,
    Description,
    Headline,
    Honeypot,
    ImageUrl,
    LanguageTag,
    Moment,
    Name,
    Notice,
    PollOption,
    QuestionText,
    ReviewNote,
    Tag,
    Title,
    UtcMoment,
    WebUrl,
)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class AudiencePublic(SQLModel):
    readers: int  # connected now, WebSocket and SSE, on every instance
    instances: int  # instances whose readers are counted
    at: datetime  # when the count was taken (every AUDIENCE_SECONDS)


class Input(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


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


def _publication(status: EntryStatus | None, publish_at: datetime | None) -> None:
    if publish_at is not None and status not in (None, EntryStatus.scheduled):
        raise ValueError(f"publish_at is for scheduled entries, not {status} ones")
    if status == EntryStatus.scheduled and publish_at is None:
        raise ValueError("a scheduled entry needs publish_at")


class PollCreate(Input):
    """A poll an entry carries: 2 to 6 different options; it may close by itself."""

    options: Annotated[
        list[PollOption], Field(min_length=POLL_OPTIONS_MIN, max_length=POLL_OPTIONS_MAX)
    ]
    closes_at: Moment | None = None

    @model_validator(mode="after")
    def _options_differ(self) -> "PollCreate":
        if len({option.casefold() for option in self.options}) != len(self.options):
            raise ValueError("a poll's options must differ")
        return self


class PollPublic(SQLModel):
    """An entry's poll, as the entry shows it (its results travel on their own: `PollResults`)."""

    options: list[str]
    closes_at: datetime | None = None
    closed_at: datetime | None = None


class PollResults(SQLModel):
    """Votes per option, in the options' order; `closed`: the result is final."""

    results: list[int]
    total: int
    closed: bool


class PollResultsList(SQLModel):
    polls: dict[int, PollResults]  # by entry id


class VoteCast(Input):
    option: Annotated[int, Field(ge=0, lt=POLL_OPTIONS_MAX)]


# --- bylines ------------------------------------------------------------------------------


class AuthorCreate(Input):
    name: Name
    role: AuthorRole = ""
    photo_url: ImageUrl | None = None
    url: WebUrl | None = None


class AuthorUpdate(Input):
    name: Name | None = None
    role: AuthorRole | None = None
    photo_url: ImageUrl | None = None
    url: WebUrl | None = None


class AuthorPublic(SQLModel):
    id: int
    name: str
    role: str
    photo_url: str | None
    url: str | None

    @classmethod
    def of(cls, author: Author) -> "AuthorPublic":
        assert author.id is not None
        return cls(
            id=author.id,
            name=author.name,
            role=author.role,
            photo_url=author.photo_url,
            url=author.url,
        )


class AuthorList(SQLModel):
    authors: list[AuthorPublic]


ProfileId = Annotated[int, Field(ge=1, le=2**31 - 1)]
AuthorIds = Annotated[list[ProfileId], Field(max_length=AUTHORS_MAX)]


class EntryCreate(Input):
    headline: Headline | None = None
    body: Body
    key_event: StrictBool = False
    pinned: StrictBool = False
    # "draft" keeps it in the newsroom; `publish_at` schedules it (status "scheduled").
    status: EntryStatus | None = None
    publish_at: Moment | None = None
    poll: PollCreate | None = None
    # Its #hashtags join these (app/domain/tags.py), up to TAGS_MAX in all.
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] = []
    # Its byline: author profiles, in order; by default its token's profile, if it has one.
    authors: AuthorIds | None = None

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
    # The tags it is given in place of those before (its #hashtags join them).
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] | None = None
    authors: AuthorIds | None = None  # its byline, in place of the one before

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
    poll: PollPublic | None = None
    tags: list[str] = []
    # Its byline, as the profiles are now; empty: `author` (its token's name) is the byline.
    authors: list[AuthorPublic] = []

    @classmethod
    def of(
        cls, entry: Entry, blog_slug: str, profiles: Mapping[int, AuthorPublic] | None = None
    ) -> "EntryPublic":
        """The entry; `profiles`: those of its `author_ids` (app/store/bylines.py loads them)."""
        assert entry.id is not None
        assert profiles is not None or not entry.author_ids, "bylines not loaded"
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
            poll=PollPublic.model_validate(entry.poll) if entry.poll else None,
            tags=list(entry.tags or ()),
            authors=[profiles[i] for i in entry.author_ids if i in profiles] if profiles else [],
        )


class EntryPage(SQLModel):
    entries: list[EntryPublic]
    next: str | None


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


class TokenCreate(Input):
    name: Name
    role: Role
    author_id: ProfileId | None = None  # the profile its entries are bylined with


class TokenUpdate(Input):
    author_id: ProfileId | None  # None: tied to none


class TokenPublic(SQLModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    author_id: int | None = None  # the profile its entries are bylined with

    @classmethod
    def of(cls, token: ApiToken) -> "TokenPublic":
        assert token.id is not None
        return cls(
            id=token.id,
            name=token.name,
            role=Role(token.role),
            created_at=token.created_at,
            revoked_at=token.revoked_at,
            author_id=token.author_id,
        )


class TokenCreated(TokenPublic):
    token: str  # shown in this answer and never again


class TokenList(SQLModel):
    tokens: list[TokenPublic]


# --- readers' questions -------------------------------------------------------------------


class QuestionAsk(Input):
    """A reader's question. `website` is a honeypot: hidden from people, filled by bots."""

    question: QuestionText
    name: AskerName
    website: Honeypot = ""


class QuestionPublic(SQLModel):
    id: int
    question: str
    name: str
    asked_at: datetime

    @classmethod
    def of(cls, question: Question) -> "QuestionPublic":
        assert question.id is not None
        return cls(
            id=question.id, question=question.text, name=question.name, asked_at=question.asked_at
        )


class QuestionList(SQLModel):
    questions: list[QuestionPublic]


class QuestionAnswer(Input):
    """The newsroom's answer: an entry that quotes the question, then says this."""

    answer: Answer
    headline: Headline | None = None
    key_event: StrictBool = False


class PushKeys(Input):
    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    auth: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PushSubscribe(Input):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=PUSH_ENDPOINT_MAX)]
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 (the browser's name)


class PushUnsubscribe(Input):
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=PUSH_ENDPOINT_MAX)]


class PushKeyPublic(SQLModel):
    public_key: str  # the server's VAPID key: a subscription's applicationServerKey
