"""A poll an entry carries, its results, and a reader's vote."""

from datetime import datetime
from typing import Annotated

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from app.domain.models import POLL_OPTIONS_MAX, POLL_OPTIONS_MIN
from app.domain.shapes.base import Input
from app.domain.text import Moment, PollOption


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
