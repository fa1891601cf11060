"""Lifecycles as enums whose allowed moves are a table, checked at every move (as
Starlette's WebSocketState is): the HTTP protocol's phases and a reader connection's
states (`http.Phase`, `reader.StreamState`)."""

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

S = TypeVar("S", bound=Enum)


def moved(table: Mapping[S, frozenset[S]], now: S, to: S, what: str) -> S:
    """`to`, if `table` lets `now` go there; a move it does not list is a bug."""
    if to not in table[now]:
        raise RuntimeError(f"{what} cannot go from {now} to {to}")
    return to
