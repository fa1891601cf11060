"""Idempotency-Keys: a retried post gets the first answer, not a second entry.

A key is per token. Its request's fingerprint is kept with the first answer, so the same
key with another request is refused (422). Keys are remembered for IDEMPOTENCY_KEY_HOURS:
long enough for any client's retries (the newsroom's outbox, `liveupdates post`), not
forever.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Header, HTTPException, Response, status
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import IDEMPOTENCY_KEY_MAX, IdempotencyKey, now
from app.store.db import Database

PATTERN = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$")
KeyHeader = Annotated[str | None, Header(json_schema_extra={"pattern": PATTERN.pattern})]


@dataclass(frozen=True, slots=True)
class Idempotent:
    """One request's key, its token and the fingerprint of what it asked."""

    token_id: int
    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, token_id: int, request: Any) -> "Idempotent | None":
        """None without a key; 400 for a key that is not 1 to 255 visible ASCII characters."""
        if key is None:
            return None
        if not PATTERN.match(key):
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters",
            )
        fingerprint = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS))
        return cls(token_id, key, fingerprint.hexdigest())

    async def first_answer(self, session: AsyncSession) -> Response | None:
        """The answer this key got the first time (201, replayed), or None if it is new."""
        first = await session.get(IdempotencyKey, (self.token_id, self.key))
        if first is None:
            return None
        if first.fingerprint != self.fingerprint:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "this Idempotency-Key was used for a different request",
            )
        return Response(
            first.response,
            status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"},
            media_type="application/json",
        )

    def remember(self, session: AsyncSession, answer: BaseModel) -> None:
        """Keep `answer` for retries, in the transaction that made it."""
        response = orjson.dumps(answer.model_dump(mode="json")).decode()
        session.add(
            IdempotencyKey(
                token_id=self.token_id,
                key=self.key,
                fingerprint=self.fingerprint,
                response=response,
            )
        )


async def forget_expired(db: Database, hours: float) -> int:
    """Delete keys older than `hours`; returns how many went."""
    async with db.write() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.created_at) < now() - timedelta(hours=hours)
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)
