"""Dependencies shared by the routers, as Annotated aliases."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.api.errors import too_many
from app.config import Settings
from app.domain.models import ApiToken, Blog, Role
from app.live.edge.admission import network_of
from app.live.hub import Hub
from app.services import services
from app.store.auth import find_token
from app.store.db import Database


# Async, though they await nothing: FastAPI runs a plain function's dependency in a thread.
async def get_db(request: Request) -> Database:
    db: Database = services(request.app).db
    return db


async def get_hub(request: Request) -> Hub:
    hub: Hub = services(request.app).hub
    return hub


async def get_settings(request: Request) -> Settings:
    settings: Settings = services(request.app).settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]


async def get_session(db: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with db.read() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_network(request: Request) -> str:
    """The client's network: its address (IPv6: its /IPV6_PREFIX_LENGTH), what per-address
    limits count."""
    address = request.client.host if request.client else ""
    return network_of(address, services(request.app).settings.ipv6_prefix_length)


_bearer = HTTPBearer(auto_error=False, description="An API token: `liveupdates token create`")


def unauthorized(detail: str = "missing bearer token", error: str = "") -> HTTPException:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge}
    )


async def maybe_token(
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken | None:
    """The caller's token, None without one; an unknown or revoked token is refused."""
    if credentials is None:
        return None
    # A session of its own, closed at once: a writer must not hold a pooled connection
    # while it queues for the write lock.
    async with db.read() as session:
        token = await find_token(session, credentials.credentials)
    if token is None:
        raise unauthorized("unknown or revoked token", error="invalid_token")
    return token


MaybeToken = Annotated[ApiToken | None, Depends(maybe_token)]


async def current_token(token: MaybeToken) -> ApiToken:
    if token is None:
        raise unauthorized()
    return token


CurrentToken = Annotated[ApiToken, Depends(current_token)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, ApiToken]]:
    async def dependency(token: CurrentToken) -> ApiToken:
        if token.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {token.role} role cannot do this")
        return token

    return dependency


# Row ids are 32-bit integers on Postgres.
ROW_ID_MAX = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]

AdminToken = Annotated[ApiToken, Depends(require_role(Role.admin))]
# The newsroom's own staff: everyone but contributors.
StaffToken = Annotated[ApiToken, Depends(require_role(Role.admin, Role.editor, Role.reporter))]


async def posting_token(request: Request, token: CurrentToken) -> ApiToken:
    """The current token, if it has not posted faster than the configured rate."""
    assert token.id is not None
    wait = await services(request.app).post_rate.check(token.id)
    if wait:
        raise too_many(wait, "posts from this token")
    return token


PostingToken = Annotated[ApiToken, Depends(posting_token)]


async def valid_blog(slug: str, session: SessionDep) -> Blog:
    blog = await session.scalar(select(Blog).where(col(Blog.slug) == slug))
    if blog is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    return blog


BlogDep = Annotated[Blog, Depends(valid_blog)]
