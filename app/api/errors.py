"""The error answers of the API, as the OpenAPI document describes them, and the domain's
refusals (app/domain/errors.py) as HTTP answers.

Every error is `{"detail": ...}`: a sentence, or for a request that fails validation,
FastAPI's list of problems.
"""

import math
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.domain.errors import Conflict, Invalid, NotAllowed, Refusal
from app.ops.outages import DATABASE
from app.store.db import held_nul, timed_out
from app.store.rate_limits import Key, RateLimit, SharedRateLimit


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    detail: str | list[FieldProblem]


_WHY = {
    400: "A header or the JSON body cannot be read",
    401: "No token, or an unknown or revoked one",
    403: "The token's role may not do this",
    404: "No such blog or entry",
    409: "The request conflicts with the current state",
    412: "`If-Match` names an older version; reload and retry",
    413: "The request body is over `MAX_BODY_BYTES`",
    415: "The upload is not an image of an accepted kind",
    422: "The request is invalid",
    429: "Too many requests; see `Retry-After`",
    503: "The database is unavailable; see `Retry-After`",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that may answer with these codes (and always 422 and 503)."""
    answers: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*codes, 422, 503}):
        model = InvalidRequest if code == 422 else Problem
        answers[code] = {"model": model, "description": _WHY[code]}
    return answers


def too_many(wait: float, what: str) -> HTTPException:
    """429: `what` came too fast (a sentence's end: "posts from this token"); retry after
    `wait` seconds."""
    seconds = math.ceil(wait)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many {what}; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


async def within(limit: RateLimit | SharedRateLimit, key: Key, what: str) -> None:
    """Count one against `limit` for `key`: 429 (`too_many`) once it is spent."""
    if wait := await limit.check(key):
        raise too_many(wait, what)


REFUSALS: dict[type[Refusal], int] = {NotAllowed: 403, Conflict: 409, Invalid: 422}


async def refused(request: Request, refusal: Exception) -> JSONResponse:
    """The exception handler for the domain's refusals."""
    assert isinstance(refusal, Refusal)
    return JSONResponse({"detail": refusal.detail}, status_code=REFUSALS[type(refusal)])


def database_error(what: str, exc: Exception) -> JSONResponse:
    """The answer to `exc`, raised by the database while serving `what` ("POST /path"): 422
    for a NUL it cannot hold (an address's or a query's: bodies are checked before), 503
    when it is away or too slow; any other fault is raised again (ours: a 500)."""
    if isinstance(exc, DBAPIError) and held_nul(exc):
        return JSONResponse({"detail": "text must not contain NUL characters"}, status_code=422)
    unreachable = isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc, DBAPIError) and not unreachable and not timed_out(exc):
        raise exc
    DATABASE.failed(what, exc)
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": "2"},
    )
