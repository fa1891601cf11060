"""API tokens: who may do what, and the profile they byline."""

from datetime import datetime

from sqlmodel import SQLModel

from app.domain.models import ApiToken, Role
from app.domain.shapes.base import Input
from app.domain.shapes.bylines import ProfileId
from app.domain.text import Name


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
