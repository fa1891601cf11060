"""Web Push: a browser's subscription and the server's key."""

from typing import Annotated

from sqlmodel import SQLModel

from app.domain.shapes.base import Input
from app.domain.text import NoNul, PushEndpoint, bounded


class PushKeys(Input):
    p256dh: Annotated[str, bounded(128, min_length=1), NoNul]
    auth: Annotated[str, bounded(64, min_length=1), NoNul]


class PushSubscribe(Input):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: PushEndpoint
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 (the browser's name)


class PushUnsubscribe(Input):
    endpoint: PushEndpoint


class PushKeyPublic(SQLModel):
    public_key: str  # the server's VAPID key: a subscription's applicationServerKey
