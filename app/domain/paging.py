"""Entries newest first, a page at a time, with opaque cursors: the API's `before`/`next`
and the reader page's "Load older updates" page through entries the same way."""

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import and_, or_
from sqlmodel import col

from app.domain.models import Entry

NEWEST_FIRST = (col(Entry.published_at).desc(), col(Entry.id).desc())
OLDEST_FIRST = (col(Entry.published_at).asc(), col(Entry.id).asc())


def encode_cursor(entry: Entry) -> str:
    """The cursor of the page after `entry` (the last one shown)."""
    micros = int(entry.published_at.timestamp() * 1_000_000)
    return base64.urlsafe_b64encode(f"{micros}.{entry.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, entry_id = (int(part) for part in raw.split("."))
        return datetime.fromtimestamp(micros / 1_000_000, UTC), entry_id
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid `before` cursor"
        ) from None


def older_than(cursor: str) -> Any:
    """The condition for entries after the cursor's, newest first (422 for a bad cursor)."""
    published_at, entry_id = decode_cursor(cursor)
    return or_(
        col(Entry.published_at) < published_at,
        and_(col(Entry.published_at) == published_at, col(Entry.id) < entry_id),
    )


def newer_than(entry: Entry) -> Any:
    """The condition for entries published after `entry` (its neighbours above it)."""
    return _after(entry.published_at, entry.id)


def newer_than_cursor(cursor: str) -> Any:
    """Entries after the cursor's, oldest first (the reading order `?order=oldest`)."""
    return _after(*decode_cursor(cursor))


def _after(published_at: datetime, entry_id: int | None) -> Any:
    return or_(
        col(Entry.published_at) > published_at,
        and_(col(Entry.published_at) == published_at, col(Entry.id) > entry_id),
    )
