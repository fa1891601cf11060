"""Polls: what an entry's poll is (stored on the entry, JSON) and when it takes votes.
A poll is open until it is closed by the newsroom or its `closes_at` passes; closing fixes
its result (no vote is taken after)."""

from datetime import datetime
from typing import Any

from app.domain.shapes.polls import PollCreate, PollPublic


def poll_of(created: PollCreate) -> dict[str, Any]:
    return PollPublic(options=created.options, closes_at=created.closes_at).model_dump(mode="json")


def is_open(poll: dict[str, Any], at: datetime) -> bool:
    shown = PollPublic.model_validate(poll)
    return shown.closed_at is None and (shown.closes_at is None or shown.closes_at > at)


def closed(poll: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The poll, closed at `at` (or when it was)."""
    shown = PollPublic.model_validate(poll)
    when = shown.closed_at or min(at, shown.closes_at or at)
    return shown.model_copy(update={"closed_at": when}).model_dump(mode="json")
