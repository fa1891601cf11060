"""Votes in entries' polls: written in groups, counted per option.

A surge of votes must not hold up entries (on SQLite every write waits for the one
writer). So votes are written together: each vote joins the next group, which is
committed at most `LINGER_SECONDS` after its first vote, in one transaction; every voter
is answered once their group is committed (a vote acknowledged is stored). A voter who
already voted is not counted again (the table's key), whichever instance they came to.
Whether a poll is open is checked in the group's transaction: a closed poll takes none.
"""

import asyncio
import time
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.domain.models import Blog, Entry, EntryStatus, Vote, now
from app.domain.polls import is_open
from app.domain.shapes.polls import PollResults
from app.store.db import Database

LINGER_SECONDS = 0.25
GROUP_MAX = 1000
# How long a poll's options are known without asking the database again. Whether it is
# still open is checked when its votes are written, so a closed poll takes no vote.
KNOWN_SECONDS = 5.0


class Cast(Enum):
    STORED = "stored"
    DUPLICATE = "this voter had voted in this poll"
    CLOSED = "the poll is closed"
    GONE = "the entry (or its poll) is gone"


@dataclass(frozen=True, slots=True)
class Ballot:
    """A vote on its way to the table (plain data: the many cost the least)."""

    entry_id: int
    voter: str
    blog_id: int
    option: int


# Written through the table, not the ORM: a vote needs no object of its own.
_VOTES: Table = SQLModel.metadata.tables["vote"]


@dataclass(frozen=True, slots=True)
class PollSeen:
    blog_id: int
    options: int  # 0: the entry carries no poll
    open: bool
    until: float  # known until this monotonic time


class VoteWriter:
    def __init__(self, db: Database, linger: float = LINGER_SECONDS) -> None:
        self.db = db
        self.linger = linger
        self._group: list[tuple[Ballot, asyncio.Future[Cast]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._seen: dict[tuple[str, int], PollSeen] = {}

    async def poll(self, slug: str, entry_id: int) -> PollSeen | None:
        """The entry's poll as lately read (`options` 0: it has none; None: no published
        entry of that blog)."""
        key = (slug, entry_id)
        seen = self._seen.get(key)
        if seen is not None and seen.until > time.monotonic():
            return seen
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(col(Entry.poll), col(Entry.status), col(Blog.id))
                    .join(Blog, col(Blog.id) == col(Entry.blog_id))
                    .where(col(Blog.slug) == slug, col(Entry.id) == entry_id)
                )
            ).first()
        if found is None or found[1] != EntryStatus.published:
            self._seen.pop(key, None)
            return None
        poll, _, blog_id = found
        if len(self._seen) >= 10_000:
            self._seen.clear()
        options, open_ = (len(poll["options"]), is_open(poll, now())) if poll else (0, False)
        seen = self._seen[key] = PollSeen(blog_id, options, open_, time.monotonic() + KNOWN_SECONDS)
        return seen

    async def cast(self, vote: Ballot) -> Cast:
        """What became of the vote, once its group is committed."""
        counted: asyncio.Future[Cast] = asyncio.get_running_loop().create_future()
        self._group.append((vote, counted))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_soon(), name="writing votes")
        return await counted

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.linger)
        while self._group:
            group, self._group = self._group[:GROUP_MAX], self._group[GROUP_MAX:]
            try:
                outcomes = await self._write([vote for vote, _ in group])
            except Exception as error:
                for _, counted in group:
                    if not counted.done():
                        counted.set_exception(error)
                continue
            for (_, counted), outcome in zip(group, outcomes, strict=True):
                if not counted.done():
                    counted.set_result(outcome)

    async def _write(self, votes: list[Ballot]) -> list[Cast]:
        """One transaction: the polls still open take their votes, once per voter."""
        insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        async with self.db.write() as session:
            polls: dict[int, dict[str, Any] | None] = dict(
                (
                    await session.execute(
                        select(col(Entry.id), col(Entry.poll)).where(
                            col(Entry.id).in_({v.entry_id for v in votes}),
                            col(Entry.status) == EntryStatus.published,
                        )
                    )
                ).all()
            )
            at = now()
            outcomes: list[Cast] = []
            first: dict[tuple[int, str], int] = {}
            for n, vote in enumerate(votes):
                poll = polls.get(vote.entry_id)
                if not poll or vote.option >= len(poll["options"]):
                    outcomes.append(Cast.GONE)
                elif not is_open(poll, at):
                    outcomes.append(Cast.CLOSED)
                elif (vote.entry_id, vote.voter) in first:
                    outcomes.append(Cast.DUPLICATE)
                else:
                    first[(vote.entry_id, vote.voter)] = n
                    outcomes.append(Cast.STORED)
            if first:
                rows = [asdict(votes[n]) for n in first.values()]
                stored = await session.execute(
                    insert(_VOTES)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .returning(_VOTES.c.entry_id, _VOTES.c.voter)
                )
                new = {(entry_id, voter) for entry_id, voter in stored}
                for key, n in first.items():
                    if key not in new:
                        outcomes[n] = Cast.DUPLICATE  # an earlier group's
            return outcomes


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
