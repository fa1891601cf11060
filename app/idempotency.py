"""Idempotency keys are remembered for IDEMPOTENCY_KEY_HOURS: long enough for any client's
retries (the newsroom's outbox, `liveupdates post`), not forever."""

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from app.db import Database
from app.models import IdempotencyKey, now


async def forget_expired(db: Database, hours: float) -> int:
    """Delete keys older than `hours`; returns how many went."""
    async with db.write() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.created_at) < now() - timedelta(hours=hours)
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)
