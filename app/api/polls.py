"""Polls in entries: readers vote (once each: a cookie; and a cap per address), through
the API or the page's form without JavaScript; the results are counted from the
database and pushed to every open page (app/live/polls.py); the newsroom closes a poll,
or it closes by itself at `closes_at`, which fixes its result."""

import hashlib
import re
import secrets
from typing import Annotated

import orjson
from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import col
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import ROW_ID_MAX, DatabaseDep, HubDep, RowId, SessionDep, StaffToken
from app.api.errors import database_error, errors, within
from app.domain.models import Blog, Entry, EntryStatus, now
from app.domain.polls import is_open
from app.domain.shapes.entries import EntryPublic
from app.domain.shapes.polls import PollResultsList, VoteCast
from app.live.edge.admission import network_of
from app.live.routes import Route
from app.live.routes import match as match_route
from app.services import Services, services
from app.site.rendering import blog_language, render
from app.store.eventlog import Change
from app.store.publishing import close_poll
from app.store.votes import Ballot, Cast, tallies

router = APIRouter(prefix="/api/blogs/{slug}", tags=["polls"])
form_router = APIRouter(tags=["polls"])

EntryId = RowId
VOTER_COOKIE = "lu_voter"
VOTER_COOKIE_SECONDS = 365 * 24 * 3600
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _voter(request: Request) -> tuple[str, str | None]:
    """(the voter, as stored: the hash of their cookie; a new cookie to set, or None)."""
    cookie = request.cookies.get(VOTER_COOKIE, "")
    fresh = None
    if not _COOKIE_VALUE.match(cookie):
        cookie = fresh = secrets.token_urlsafe(18)
    return hashlib.sha256(cookie.encode()).hexdigest(), fresh


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _set_cookie(response: Response, fresh: str | None) -> None:
    if fresh is not None:
        response.set_cookie(
            VOTER_COOKIE, fresh, max_age=VOTER_COOKIE_SECONDS, httponly=True, samesite="lax"
        )


async def vote(
    parts: Services, address: str, slug: str, entry_id: int, option: int, voter: str
) -> None:
    """Count one reader's vote, or refuse it (counts nothing)."""
    poll = await parts.votes.poll(slug, entry_id)
    if poll is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no entry {entry_id} in blog {slug!r}")
    if not poll.options:
        raise HTTPException(status.HTTP_409_CONFLICT, f"entry {entry_id} carries no poll")
    if not poll.open:
        raise HTTPException(status.HTTP_409_CONFLICT, "this poll is closed")
    if option >= poll.options:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such option")
    network = network_of(address, parts.settings.ipv6_prefix_length)
    await within(parts.votes_per_address, f"{network}:{entry_id}", "votes from this address")
    cast = await parts.votes.cast(Ballot(entry_id, voter, poll.blog_id, option))
    if cast is Cast.DUPLICATE:
        raise HTTPException(status.HTTP_409_CONFLICT, "you have voted in this poll")
    if cast is Cast.CLOSED:
        raise HTTPException(status.HTTP_409_CONFLICT, "this poll is closed")
    if cast is Cast.GONE:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no poll in entry {entry_id} of {slug!r}")


@router.post(
    "/entries/{entry_id}/votes",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteCast,
    responses=errors(400, 404, 409, 413, 429),
)
async def cast_vote(
    request: Request, response: Response, slug: str, entry_id: EntryId, cast: VoteCast
) -> VoteCast:
    """Vote in an entry's poll (anyone; once each: the `lu_voter` cookie, set when missing).
    Answered once the vote is stored; readers get the results within
    `POLL_RESULTS_SECONDS`."""
    voter, fresh = _voter(request)
    await vote(services(request.app), _address(request), slug, entry_id, cast.option, voter)
    _set_cookie(response, fresh)
    return cast


@router.get("/polls", response_model=PollResultsList, responses=errors(404))
async def poll_results(slug: str, session: SessionDep) -> PollResultsList:
    """The results of the blog's polls that have votes, by entry id (counted now)."""
    blog_id = await session.scalar(select(col(Blog.id)).where(col(Blog.slug) == slug))
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    return PollResultsList(polls=(await tallies(session, [blog_id])).get(blog_id, {}))


@router.post(
    "/entries/{entry_id}/poll/close",
    response_model=EntryPublic,
    responses=errors(401, 403, 404, 409),
)
async def close_entry_poll(
    slug: str, entry_id: EntryId, db: DatabaseDep, hub: HubDep, _: StaffToken
) -> EntryPublic:
    """Close the poll now (admins, editors, reporters): its result is final; readers get
    the entry updated."""
    async with Change(db, hub) as change:
        blog = await change.lock(slug)
        entry = await change.session.get(Entry, entry_id, populate_existing=True)
        if blog is None or entry is None or entry.blog_id != blog.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no entry {entry_id} in {slug!r}")
        if not entry.poll:
            raise HTTPException(status.HTTP_409_CONFLICT, f"entry {entry_id} carries no poll")
        if entry.status != EntryStatus.published or not is_open(entry.poll, now()):
            raise HTTPException(status.HTTP_409_CONFLICT, "this poll is not open")
        return await close_poll(change, slug, entry, now())


@form_router.post("/blogs/{slug}/entries/{entry_id}/vote", include_in_schema=False)
async def vote_by_form(
    request: Request,
    slug: str,
    entry_id: EntryId,
    option: Annotated[int, Form(ge=0, lt=64)],
) -> Response:
    """The page's form, without JavaScript: back to the entry once counted, else a page."""
    voter, fresh = _voter(request)
    try:
        await vote(services(request.app), _address(request), slug, entry_id, option, voter)
    except HTTPException as refused:
        lang = await blog_language(request, slug)
        body = render("voted.html", lang, slug=slug, code=refused.status_code)
        answer = Response(body, refused.status_code, media_type="text/html")
    else:
        answer = RedirectResponse(f"/blogs/{slug}/entries/{entry_id}", status.HTTP_303_SEE_OTHER)
    _set_cookie(answer, fresh)
    return answer


# Longer votes (a JSON object of one small number) go the framework's way, to its 413 or 422.
_FAST_BODY_BYTES = 256


class VotesMiddleware:
    """In front of the framework: a vote through the API that is well formed is counted
    here, without routing, dependencies or the framework's middleware, so that a surge of
    votes takes the least from the event loop that delivers entries. Its answers are the
    framework route's (`cast_vote`), which serves every other vote: one not JSON, too long
    or invalid (its body handed on as it came), or with the app not served this way."""

    def __init__(self, app: ASGIApp, framework: FastAPI) -> None:
        self.app = app
        self.framework = framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and (found := match_route(scope["path"])) is not None
            and found.route is Route.VOTE
            and found.entry_id is not None
            and found.entry_id <= ROW_ID_MAX
        ):
            body, receive = await _small_json_body(scope, receive)
            cast = _vote_cast(body)
            if cast is not None:
                scope["liveupdates.route"] = Route.VOTE.value
                answer = await self._vote(scope, found.slug, found.entry_id, cast.option)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _vote(self, scope: Scope, slug: str, entry_id: int, option: int) -> Response:
        request = Request(scope)
        voter, fresh = _voter(request)
        try:
            await vote(services(self.framework), _address(request), slug, entry_id, option, voter)
        except HTTPException as refusal:
            return JSONResponse({"detail": refusal.detail}, refusal.status_code, refusal.headers)
        except Exception as exc:
            return database_error(f"POST {scope['path']}", exc)
        answer = JSONResponse({"option": option}, status.HTTP_201_CREATED)
        _set_cookie(answer, fresh)
        return answer


async def _small_json_body(scope: Scope, receive: Receive) -> tuple[bytes | None, Receive]:
    """The body, when the request says it is JSON of at most `_FAST_BODY_BYTES`; and what
    to receive from then on (the same messages again, for the framework)."""
    headers = Headers(scope=scope)
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    length = headers.get("content-length", "")
    if media_type != "application/json" or not length.isdigit() or int(length) > _FAST_BODY_BYTES:
        return None, receive
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, _replaying(messages, receive)
        body += message.get("body", b"")
        if len(body) > _FAST_BODY_BYTES:
            return None, _replaying(messages, receive)
        if not message.get("more_body", False):
            return body, _replaying(messages, receive)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _vote_cast(body: bytes | None) -> VoteCast | None:
    """The vote, read as the framework reads a body (JSON, then the model); None if not."""
    if body is None:
        return None
    try:
        return VoteCast.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return None
