"""API tokens: shown once, stored only as a SHA-256 hash, looked up by that hash."""

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import ApiToken, Role, now

TOKEN_PREFIX = "lu_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(session: AsyncSession, name: str, role: Role) -> tuple[ApiToken, str]:
    """Store a new token; the plain token is returned here and never again."""
    plain = new_token()
    token = ApiToken(name=name, role=role, token_hash=hash_token(plain))
    session.add(token)
    await session.flush()
    return token, plain


async def find_token(session: AsyncSession, plain: str) -> ApiToken | None:
    """The live token matching `plain`, if any.

    The lookup is by hash, so the database compares digests of the secret, never the
    secret itself, and timing reveals nothing about a token's characters.
    """
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    token = await session.scalar(
        select(ApiToken).where(col(ApiToken.token_hash) == hash_token(plain))
    )
    if token is None or token.revoked_at is not None:
        return None
    return token


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list(await session.scalars(select(ApiToken).order_by(col(ApiToken.id))))


async def revoke_token(session: AsyncSession, token_id: int) -> ApiToken | None:
    """Revoke a token (from the next request on); None if there is no such token."""
    token = await session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = now()
    return token
