"""Votes in entries' polls: written in groups, counted per option.

A surge of votes must not hold up entries (on SQLite every write waits for the one
writer). So votes are written together: each vote joins the next group, which is
committed at most `LINGER_SECONDS` after its first vote, in one transaction; every voter
is answered once their group is committed (a vote acknowledged is stored). A voter who
already voted is not counted again (the table's key), whichever instance they came to.
"""

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import Entry, EntryStatus, Vote, now
from app.domain.polls import is_open
from app.domain.shapes import PollResults
from app.store.db import Database

LINGER_SECONDS = 0.05
GROUP_MAX = 1000


class VoteWriter:
    def __init__(self, db: Database, linger: float = LINGER_SECONDS) -> None:
        self.db = db
        self.linger = linger
        self._group: list[tuple[Vote, asyncio.Future[bool]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def cast(self, vote: Vote) -> bool:
        """True once the vote is stored; False if this voter had voted in this poll."""
        counted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._group.append((vote, counted))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_soon(), name="writing votes")
        return await counted

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.linger)
        while self._group:
            group, self._group = self._group[:GROUP_MAX], self._group[GROUP_MAX:]
            try:
                stored = await self._write([vote for vote, _ in group])
            except BaseException as error:
                for _, counted in group:
                    if not counted.done():
                        counted.set_exception(error if isinstance(error, Exception) else
                                              RuntimeError("vote writing stopped"))  # fmt: skip
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, counted), was_stored in zip(group, stored, strict=True):
                if not counted.done():
                    counted.set_result(was_stored)

    async def _write(self, votes: list[Vote]) -> list[bool]:
        insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        async with self.db.write() as session:
            stored = []
            for vote in votes:
                added = await session.execute(
                    insert(Vote)
                    .values(
                        entry_id=vote.entry_id,
                        voter=vote.voter,
                        blog_id=vote.blog_id,
                        option=vote.option,
                    )
                    .on_conflict_do_nothing()
                    .returning(col(Vote.voter))
                )
                stored.append(added.first() is not None)
            return stored


async def tallies(session: AsyncSession, blog_ids: list[int]) -> dict[int, dict[int, PollResults]]:
    """The results of the blogs' polls that have votes: blog id -> entry id -> results."""
    counted = await session.execute(
        select(col(Vote.entry_id), col(Vote.option), func.count())
        .where(col(Vote.blog_id).in_(blog_ids))
        .group_by(col(Vote.entry_id), col(Vote.option))
    )
    per_entry: dict[int, dict[int, int]] = {}
    for entry_id, option, votes in counted:
        per_entry.setdefault(entry_id, {})[option] = votes
    if not per_entry:
        return {}
    polls = await session.execute(
        select(col(Entry.id), col(Entry.blog_id), col(Entry.poll)).where(
            col(Entry.id).in_(list(per_entry)), col(Entry.status) == EntryStatus.published
        )
    )
    at = now()
    found: dict[int, dict[int, PollResults]] = {}
    for entry_id, blog_id, poll in polls:
        if not poll:
            continue
        results = [per_entry[entry_id].get(i, 0) for i in range(len(poll["options"]))]
        found.setdefault(blog_id, {})[entry_id] = PollResults(
            results=results, total=sum(results), closed=not is_open(poll, at)
        )
    return found


def results_json(results: dict[int, PollResults]) -> dict[str, Any]:
    return {str(entry_id): r.model_dump(mode="json") for entry_id, r in results.items()}
