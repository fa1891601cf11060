"""API tokens, managed by admins; any token may ask who it is."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import AdminToken, CurrentToken, DatabaseDep, RowId
from app.api.errors import errors
from app.domain.shapes import TokenCreate, TokenCreated, TokenList, TokenPublic
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
    """Create a token (admin); the answer holds the token itself, shown only this once."""
    async with db.write() as session:
        token, plain = await create_token(session, payload.name, payload.role)
    return TokenCreated(**TokenPublic.of(token).model_dump(), token=plain)


@router.get("", response_model=TokenList, responses=errors(401, 403))
async def list_all(db: DatabaseDep, _: AdminToken) -> TokenList:
    """Every token, revoked ones included (admin). Tokens themselves are never shown."""
    async with db.read() as session:
        return TokenList(tokens=[TokenPublic.of(t) for t in await list_tokens(session)])


me_router = APIRouter(prefix="/api/me", tags=["tokens"])


@me_router.get("", response_model=TokenPublic, responses=errors(401))
async def me(token: CurrentToken) -> TokenPublic:
    """The caller's own token: its name and role."""
    return TokenPublic.of(token)


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404)
)
async def revoke(token_id: TokenId, db: DatabaseDep, _: AdminToken) -> None:
    """Revoke a token (admin): from its next request on, it is refused with 401."""
    async with db.write() as session:
        if await revoke_token(session, token_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
