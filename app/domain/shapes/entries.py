"""An entry as the API reads and writes it: its text, status, poll, tags and byline."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import StrictBool, model_validator
from sqlmodel import Field, SQLModel

from app.domain.models import Entry, EntryStatus
from app.domain.shapes.base import Input
from app.domain.shapes.bylines import AuthorIds, AuthorPublic
from app.domain.shapes.polls import PollCreate, PollPublic
from app.domain.tags import TAGS_MAX
from app.domain.text import Body, CorrectionNote, Headline, Moment, ReviewNote, Tag


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
