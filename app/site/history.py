"""An entry's earlier versions, read from the event log (which keeps every published
version exactly as readers received it, and which nothing rewrites): each version's text,
when it appeared, the correction note its edit carried, and what changed from the version
before, word by word."""

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.domain.alerts import plain_text
from app.domain.events import EventType
from app.domain.models import Event
from app.domain.shapes.entries import EntryPublic

WORDS = re.compile(r"\s+|\w+|[^\w\s]")


class Change(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class Version(BaseModel):
    version: int
    offset: int  # of the event that carried it
    at: datetime  # when readers first saw this text
    headline: str | None
    html: str
    correction: str | None  # the note of the edit that made this version, if it had one
    changes: list[Change]  # from the version before (the first version: all "equal")


class History(BaseModel):
    entry_id: int
    versions: list[Version]  # oldest first


@dataclass(frozen=True)
class _Text:
    headline: str | None
    html: str

    def words(self) -> list[str]:
        text = plain_text(self.html)
        return WORDS.findall(f"{self.headline}\n{text}" if self.headline else text)


def _changes(before: _Text | None, after: _Text) -> list[Change]:
    new = after.words()
    if before is None:
        return [Change(op="equal", text="".join(new))]
    old = before.words()
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            changes.append(Change(op="delete", text="".join(old[a1:a2])))
        if op in ("insert", "replace"):
            changes.append(Change(op="insert", text="".join(new[b1:b2])))
        if op == "equal":
            changes.append(Change(op="equal", text="".join(new[b1:b2])))
    return changes


async def load_history(session: AsyncSession, blog_id: int, entry_id: int) -> History | None:
    """The published versions of an entry, oldest first; None if readers never saw it.
    Flag changes (pinned, key event) make no version: only the text's changes do."""
    rows = await session.execute(
        select(col(Event.offset), col(Event.data))
        .where(
            col(Event.blog_id) == blog_id,
            col(Event.entry_id) == entry_id,
            col(Event.type).in_([EventType.ENTRY_CREATED, EventType.ENTRY_UPDATED]),
        )
        .order_by(col(Event.offset))
    )
    versions: list[Version] = []
    last: _Text | None = None
    for offset, data in rows:
        entry = EntryPublic.model_validate(orjson.loads(data)["entry"])
        text = _Text(entry.headline, entry.html)
        if text == last:
            continue
        note = next((c.note for c in entry.corrections if c.version == entry.version), None)
        edited = last is not None and entry.updated_at is not None
        versions.append(
            Version(
                version=entry.version,
                offset=offset,
                at=entry.updated_at if edited and entry.updated_at else entry.published_at,
                headline=entry.headline,
                html=entry.html,
                correction=note,
                changes=_changes(last, text),
            )
        )
        last = text
    if not versions:
        return None
    return History(entry_id=entry_id, versions=versions)
