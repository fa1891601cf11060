"""Web Push in the database: the server's VAPID keys, readers' subscriptions, and the
notifications waiting to go out.

A notification is a `PushJob`, added in the transaction of the change that causes it (a
key event published, the blog ended), so none is lost and none is made for a change that
rolled back. Senders on every instance take a job's subscribers a chunk at a time
(`claim`): moving `sent_upto` in a write transaction, which the blog's row lock (Postgres)
or the one writer (SQLite) makes one taker's at a time, so each subscriber is sent each
notification once, whichever instance sends it.
"""

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.models import PushJob, PushKey, PushSubscription
from app.store.db import Database

CHUNK = 500  # subscribers one sender takes at a time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Keys:
    private_key: str  # base64url of the 32-byte private number
    public_key: str  # base64url of the 65-byte uncompressed point: applicationServerKey


def _new_keys() -> Keys:
    key = ec.generate_private_key(ec.SECP256R1())
    number = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_numbers()
    public = b"\x04" + point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")
    return Keys(b64url(number), b64url(public))


async def vapid_keys(db: Database) -> Keys:
    """The server's key pair: the one kept, or a new one kept now (the first instance to
    make one wins; the others read it)."""
    async with db.read() as session:
        kept = await session.get(PushKey, 1)
    if kept is None:
        made = _new_keys()
        insert = sqlite.insert if db.is_sqlite else postgresql.insert
        async with db.write() as session:
            await session.execute(
                insert(PushKey)
                .values(id=1, private_key=made.private_key, public_key=made.public_key)
                .on_conflict_do_nothing()
            )
        async with db.read() as session:
            kept = await session.get(PushKey, 1)
        assert kept is not None
    return Keys(kept.private_key, kept.public_key)


async def subscribe(
    session: AsyncSession, blog_id: int, endpoint: str, p256dh: str, auth: str
) -> bool:
    """Keep the subscription (its keys renewed if it was known); True if it is new."""
    known = await session.scalar(
        select(PushSubscription).where(
            col(PushSubscription.blog_id) == blog_id, col(PushSubscription.endpoint) == endpoint
        )
    )
    if known is not None:
        known.p256dh, known.auth = p256dh, auth
        return False
    session.add(PushSubscription(blog_id=blog_id, endpoint=endpoint, p256dh=p256dh, auth=auth))
    return True


async def unsubscribe(session: AsyncSession, blog_id: int, endpoint: str) -> bool:
    gone = await session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.blog_id) == blog_id, col(PushSubscription.endpoint) == endpoint
        )
    )
    return bool(getattr(gone, "rowcount", 0))


async def enqueue(session: AsyncSession, blog_id: int, message: dict[str, Any]) -> None:
    """A notification for the blog's subscribers as of now, sent once the change commits."""
    upto = await session.scalar(
        select(func.max(PushSubscription.id)).where(col(PushSubscription.blog_id) == blog_id)
    )
    if upto is not None:  # nobody to tell: no job
        session.add(PushJob(blog_id=blog_id, message=message, upto=upto))


@dataclass(frozen=True, slots=True)
class Chunk:
    message: dict[str, Any]
    subscriptions: list[PushSubscription]


async def claim(db: Database) -> Chunk | None:
    """Take the next chunk of subscribers of the oldest unfinished notification, or None."""
    async with db.read() as session:  # most calls find none: without taking the writer
        waiting = await session.scalar(
            select(col(PushJob.id)).where(col(PushJob.sent_upto) < col(PushJob.upto)).limit(1)
        )
    if waiting is None:
        return None
    async with db.write() as session:
        job = await session.scalar(
            select(PushJob)
            .where(col(PushJob.sent_upto) < col(PushJob.upto))
            .order_by(col(PushJob.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        subscriptions = list(
            await session.scalars(
                select(PushSubscription)
                .where(
                    col(PushSubscription.blog_id) == job.blog_id,
                    col(PushSubscription.id) > job.sent_upto,
                    col(PushSubscription.id) <= job.upto,
                )
                .order_by(col(PushSubscription.id))
                .limit(CHUNK)
            )
        )
        last = subscriptions[-1].id if len(subscriptions) == CHUNK else job.upto
        assert last is not None
        await session.execute(
            update(PushJob).where(col(PushJob.id) == job.id).values(sent_upto=last)
        )
        if last >= job.upto:
            await session.execute(delete(PushJob).where(col(PushJob.id) == job.id))
        return Chunk(job.message, subscriptions)


async def forget(db: Database, subscription_ids: list[int]) -> None:
    """Subscriptions their push service says are gone (404, 410)."""
    if subscription_ids:
        async with db.write() as session:
            await session.execute(
                delete(PushSubscription).where(col(PushSubscription.id).in_(subscription_ids))
            )
