"""Author profiles, for bylines: admins keep them; every entry bylined with one shows it as
it is now, so renaming a profile renames it on old entries too (readers of those blogs are
told at once: `author.updated`)."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlmodel import col

from app.api.deps import AdminToken, CurrentToken, DatabaseDep, HubDep, RowId, SessionDep
from app.api.errors import errors
from app.domain import events
from app.domain.models import Author, Blog, now
from app.domain.shapes.bylines import AuthorCreate, AuthorList, AuthorPublic, AuthorUpdate
from app.store import bylines
from app.store.eventlog import Change

router = APIRouter(prefix="/api/authors", tags=["authors"])

AuthorId = RowId


def _not_found(author_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no author {author_id}")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthorPublic,
    responses=errors(400, 401, 403, 413),
)
async def create_author(payload: AuthorCreate, db: DatabaseDep, _: AdminToken) -> AuthorPublic:
    """Make a profile (admin): a name, what they do, a photo and a link, all as shown."""
    async with db.write() as session:
        author = Author(**payload.model_dump())
        session.add(author)
        await session.flush()
        return AuthorPublic.of(author)


@router.get("", response_model=AuthorList, responses=errors(401))
async def list_authors(session: SessionDep, _: CurrentToken) -> AuthorList:
    """Every profile, by name (any newsroom token: to byline entries)."""
    authors = await session.scalars(select(Author).order_by(col(Author.name), col(Author.id)))
    return AuthorList(authors=[AuthorPublic.of(a) for a in authors])


@router.get("/{author_id}", response_model=AuthorPublic, responses=errors(404))
async def get_author(author_id: AuthorId, session: SessionDep) -> AuthorPublic:
    """One profile, as bylines show it."""
    author = await session.get(Author, author_id)
    if author is None:
        raise _not_found(author_id)
    return AuthorPublic.of(author)


@router.patch("/{author_id}", response_model=AuthorPublic, responses=errors(400, 401, 403, 404))
async def update_author(
    author_id: AuthorId, payload: AuthorUpdate, db: DatabaseDep, hub: HubDep, _: AdminToken
) -> AuthorPublic:
    """Change a profile (admin); `null` clears a photo or link. Every blog with an entry
    bylined with it takes an `author.updated` event in the same transaction."""
    changes = payload.model_dump(exclude_unset=True)
    for required in ("name", "role"):
        if required in changes and changes[required] is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{required} cannot be null")
    async with Change(db, hub) as change:
        author = await change.session.get(Author, author_id, with_for_update=True)
        if author is None:
            raise _not_found(author_id)
        changes = {k: v for k, v in changes.items() if getattr(author, k) != v}
        if not changes:
            change.abandon()
            return AuthorPublic.of(author)
        for field, value in changes.items():
            setattr(author, field, value)
        author.updated_at = now()
        public = AuthorPublic.of(author)
        blog_ids = await bylines.blogs_bylined(change.session, author_id)
        slugs = await change.session.scalars(
            select(col(Blog.slug)).where(col(Blog.id).in_(blog_ids)).order_by(col(Blog.id))
        )
        for slug in list(slugs):  # in one order always: writers lock blogs alike
            blog = await change.claim_offset(slug)
            assert blog is not None
            change.append(blog, events.author_updated(public))
    return public


@router.delete(
    "/{author_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 409)
)
async def delete_author(author_id: AuthorId, db: DatabaseDep, _: AdminToken) -> None:
    """Remove a profile no published entry carries (admin); tokens tied to it are untied.
    One on published entries stays (a byline is part of the record): rename it instead."""
    async with db.write() as session:
        author = await session.get(Author, author_id, with_for_update=True)
        if author is None:
            raise _not_found(author_id)
        if await bylines.blogs_bylined(session, author_id):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"author {author_id} is on published entries"
            )
        await bylines.untie_all(session, author_id)
        await session.delete(author)
