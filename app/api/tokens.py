"""API tokens, managed by admins; any token may ask who it is."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import AdminToken, CurrentToken, DatabaseDep, RowId
from app.api.errors import errors
from app.domain.models import ApiToken
from app.domain.shapes.tokens import TokenCreate, TokenCreated, TokenList, TokenPublic, TokenUpdate
from app.store import bylines
from app.store.auth import create_token, list_tokens, revoke_token

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

TokenId = RowId


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses=errors(400, 401, 403, 413),
)
async def create(payload: TokenCreate, db: DatabaseDep, _: AdminToken) -> TokenCreated:
    """Create a token (admin); the answer holds the token itself, shown only this once.
    `author_id` ties it to a profile: its entries are bylined with it."""
    async with db.write() as session:
        token, plain = await create_token(session, payload.name, payload.role)
        await _tie(session, token, payload.author_id)
    return TokenCreated(**TokenPublic.of(token).model_dump(), token=plain)


async def _tie(session: AsyncSession, token: ApiToken, author_id: int | None) -> None:
    if author_id is not None and await bylines.missing(session, [author_id]):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no author {author_id}")
    await bylines.tie(session, token, author_id)


@router.get("", response_model=TokenList, responses=errors(401, 403))
async def list_all(db: DatabaseDep, _: AdminToken) -> TokenList:
    """Every token, revoked ones included (admin). Tokens themselves are never shown."""
    async with db.read() as session:
        return TokenList(tokens=[TokenPublic.of(t) for t in await list_tokens(session)])


@router.patch("/{token_id}", response_model=TokenPublic, responses=errors(400, 401, 403, 404))
async def update(
    token_id: TokenId, payload: TokenUpdate, db: DatabaseDep, _: AdminToken
) -> TokenPublic:
    """Tie the token to a profile, or to none (`"author_id": null`) (admin)."""
    async with db.write() as session:
        token = await session.get(ApiToken, token_id)
        if token is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
        await _tie(session, token, payload.author_id)
        return TokenPublic.of(token)


me_router = APIRouter(prefix="/api/me", tags=["tokens"])


@me_router.get("", response_model=TokenPublic, responses=errors(401))
async def me(token: CurrentToken) -> TokenPublic:
    """The caller's own token: its name, role and profile."""
    return TokenPublic.of(token)


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404)
)
async def revoke(token_id: TokenId, db: DatabaseDep, _: AdminToken) -> None:
    """Revoke a token (admin): from its next request on, it is refused with 401."""
    async with db.write() as session:
        if await revoke_token(session, token_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
