"""Bylines: author profiles, which entries name by id and show as the profiles are now (a
renamed profile shows on old entries), and the profile a token is tied to."""

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import ApiToken, Author, Entry, EntryAuthor
from app.domain.shapes.bylines import AuthorPublic
from app.domain.shapes.entries import EntryPublic


async def profiles(session: AsyncSession, ids: Iterable[int]) -> dict[int, AuthorPublic]:
    """The profiles of these ids (those that are still there)."""
    wanted = set(ids)
    if not wanted:
        return {}
    found = await session.scalars(select(Author).where(col(Author.id).in_(wanted)))
    return {author.id: AuthorPublic.of(author) for author in found if author.id is not None}


async def public(session: AsyncSession, entry: Entry, slug: str) -> EntryPublic:
    """The entry as the API shows it, its byline as the profiles are now."""
    return EntryPublic.of(entry, slug, await profiles(session, entry.author_ids))


async def publics(session: AsyncSession, entries: Sequence[Entry], slug: str) -> list[EntryPublic]:
    """Entries of one blog as the API shows them (their profiles read in one query)."""
    found = await profiles(session, (i for entry in entries for i in entry.author_ids))
    return [EntryPublic.of(entry, slug, found) for entry in entries]


async def missing(session: AsyncSession, ids: Iterable[int]) -> list[int]:
    """Which of these ids no profile has."""
    wanted = list(dict.fromkeys(ids))
    found = await profiles(session, wanted)
    return [i for i in wanted if i not in found]


async def tie(session: AsyncSession, token: ApiToken, author_id: int | None) -> None:
    """Tie the token to the profile (None: to none)."""
    token.author_id = author_id
    session.add(token)
    await session.flush()


async def untie_all(session: AsyncSession, author_id: int) -> None:
    """Untie every token from the profile (it is being deleted)."""
    await session.execute(
        update(ApiToken).where(col(ApiToken.author_id) == author_id).values(author_id=None)
    )


async def blogs_bylined(session: AsyncSession, author_id: int) -> list[int]:
    """The blogs with a published entry bylined with the profile."""
    rows = await session.scalars(
        select(col(EntryAuthor.blog_id)).where(col(EntryAuthor.author_id) == author_id).distinct()
    )
    return list(rows)


def byline(token: ApiToken, named: list[int] | None) -> list[int]:
    """A new entry's authors: those `named`, else the posting token's profile, if any."""
    if named is not None:
        return list(dict.fromkeys(named))
    return [token.author_id] if token.author_id is not None else []
