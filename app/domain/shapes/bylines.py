"""Author profiles: the bylines entries and tokens refer to."""

from typing import Annotated

from sqlmodel import Field, SQLModel

from app.domain.models import AUTHORS_MAX, Author
from app.domain.shapes.base import Input
from app.domain.text import AuthorRole, ImageUrl, Name, WebUrl


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
