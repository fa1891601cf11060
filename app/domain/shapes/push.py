"""Web Push: a browser's subscription and the server's key."""

from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import SQLModel

from app.domain.models import PUSH_ENDPOINT_MAX
from app.domain.shapes.base import Input


class PushKeys(Input):
    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    auth: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PushSubscribe(Input):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=PUSH_ENDPOINT_MAX)]
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 (the browser's name)


class PushUnsubscribe(Input):
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=PUSH_ENDPOINT_MAX)]


class PushKeyPublic(SQLModel):
    public_key: str  # the server's VAPID key: a subscription's applicationServerKey
