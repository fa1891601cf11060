"""Readers' questions to the newsroom: sent by anyone to a blog that accepts them (as JSON,
or by the page's form without JavaScript), pushed live to the newsroom's desks, answered
in an entry that quotes them, or dismissed. Only what is shown is stored; the limits keep
an address only as long as its window."""

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Form, HTTPException, Path, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.types import Receive, Scope, Send

from app.api.deps import DatabaseDep, HubDep, SessionDep, SettingsDep, StaffToken
from app.api.errors import errors
from app.domain import events
from app.domain.models import Blog, BlogStatus, Entry, EntryStatus, Question
from app.domain.questions import answer_body
from app.domain.render import render_markdown
from app.domain.shapes import (
    EntryPublic,
    QuestionAnswer,
    QuestionAsk,
    QuestionList,
    QuestionPublic,
)
from app.live.desk import DeskFollower
from app.live.edge.admission import network_of
from app.live.hub import Hub
from app.live.wire import SSE_KEEP_ALIVE
from app.services import services
from app.site.i18n import language
from app.site.pages import render
from app.store.db import Database
from app.store.eventlog import Change
from app.store.publishing import add_published

router = APIRouter(prefix="/api/blogs/{slug}", tags=["questions"])
form_router = APIRouter(tags=["questions"])

QuestionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _too_many(wait: float, what: str) -> HTTPException:
    seconds = math.ceil(wait)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many questions {what}; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


async def ask(request: Request, db: Database, hub: Hub, slug: str, sent: QuestionAsk) -> Question:
    """Store a reader's question and tell the desks, or refuse it (stores nothing)."""
    if sent.website:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "leave `website` empty")
    async with db.read() as session:
        blog = await session.scalar(select(Blog).where(col(Blog.slug) == slug))
    if blog is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    if not blog.accepts_questions:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this blog does not take questions")
    if blog.status == BlogStatus.ended:
        raise HTTPException(status.HTTP_409_CONFLICT, f"blog {slug!r} has ended")
    parts = services(request.app)
    address = request.client.host if request.client else ""
    network = network_of(address, parts.settings.ipv6_prefix_length)
    if wait := await parts.questions_per_address.check(network):
        raise _too_many(wait, "from this address")
    assert blog.id is not None
    if wait := await parts.questions_per_blog.check(blog.id):
        raise _too_many(wait, "for this blog")
    question = Question(blog_id=blog.id, text=sent.question, name=sent.name)
    async with db.write() as session:
        session.add(question)
        await session.flush()
    hub.desk.tell(blog.id, events.question_asked(QuestionPublic.of(question)))
    return question


@router.post(
    "/questions",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionPublic,
    responses=errors(400, 403, 404, 409, 413, 429),
)
async def send_question(
    request: Request, slug: str, sent: QuestionAsk, db: DatabaseDep, hub: HubDep
) -> QuestionPublic:
    """Ask the newsroom (anyone; the blog must accept questions). Readers never see a
    question unless the newsroom answers it in an entry."""
    return QuestionPublic.of(await ask(request, db, hub, slug, sent))


@form_router.post("/blogs/{slug}/questions", include_in_schema=False)
async def send_question_by_form(
    request: Request,
    slug: str,
    db: DatabaseDep,
    hub: HubDep,
    settings: SettingsDep,
    question: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
) -> Response:
    """The page's form, without JavaScript: the same question, answered with a page."""
    async with db.read() as session:
        blog = await session.scalar(select(Blog).where(col(Blog.slug) == slug))
    lang = language(blog.language if blog else settings.default_language)
    headers: dict[str, str] = {}
    try:
        sent = QuestionAsk.model_validate({"question": question, "name": name, "website": website})
    except ValueError:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
    else:
        try:
            await ask(request, db, hub, slug, sent)
            code = status.HTTP_201_CREATED
        except HTTPException as refused:
            code, headers = refused.status_code, dict(refused.headers or {})
    body = render("asked.html", lang, slug=slug, code=code)
    return Response(body, code, headers=headers, media_type="text/html")


@router.get("/questions", response_model=QuestionList, responses=errors(401, 403, 404))
async def open_questions(slug: str, session: SessionDep, _: StaffToken) -> QuestionList:
    """The questions waiting for an answer, oldest first (admins, editors, reporters)."""
    return QuestionList(questions=await _open_questions(session, slug))


async def _open_questions(session: AsyncSession, slug: str) -> list[QuestionPublic]:
    blog = await session.scalar(select(Blog).where(col(Blog.slug) == slug))
    if blog is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    found = await session.scalars(
        select(Question)
        .where(col(Question.blog_id) == blog.id)
        .order_by(col(Question.asked_at), col(Question.id))
    )
    return [QuestionPublic.of(q) for q in found]


async def _locked_question(change: Change, slug: str, question_id: int) -> tuple[Blog, Question]:
    blog = await change.lock(slug)
    question = await change.session.get(Question, question_id, populate_existing=True)
    if blog is None or question is None or question.blog_id != blog.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no question {question_id} in {slug!r}")
    return blog, question


@router.post(
    "/questions/{question_id}/answer",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryPublic,
    responses=errors(400, 401, 403, 404, 409, 413),
)
async def answer_question(
    slug: str,
    question_id: QuestionId,
    answer: QuestionAnswer,
    db: DatabaseDep,
    hub: HubDep,
    settings: SettingsDep,
    token: StaffToken,
) -> EntryPublic:
    """Answer in the blog: a published entry that quotes the question and its asker's name
    (as text, whatever they typed), then the answer (Markdown). The question is closed."""
    async with Change(db, hub) as change:
        blog, question = await _locked_question(change, slug, question_id)
        if blog.status == BlogStatus.ended:
            raise HTTPException(status.HTTP_409_CONFLICT, f"blog {slug!r} has ended")
        claimed = await change.claim_offset(slug)
        assert claimed is not None and claimed.id is not None
        blog, blog_id = claimed, claimed.id
        body = answer_body(question.text, question.name, answer.answer)
        entry = Entry(
            blog_id=blog_id,
            headline=answer.headline or None,
            body=body,
            html=render_markdown(body, settings.mastodon_hosts),
            key_event=answer.key_event,
            author=token.name,
            author_token_id=token.id,
            status=EntryStatus.published,
        )
        await change.session.delete(question)
        public = await add_published(change, blog, entry)
    hub.desk.tell(blog_id, events.question_closed(question_id, public.id))
    return public


@router.delete(
    "/questions/{question_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
)
async def dismiss_question(
    slug: str, question_id: QuestionId, db: DatabaseDep, hub: HubDep, _: StaffToken
) -> None:
    """Dismiss a question: it is deleted, and readers never see it."""
    async with Change(db, hub) as change:
        blog, question = await _locked_question(change, slug, question_id)
        await change.session.delete(question)
        assert blog.id is not None
        blog_id = blog.id
    hub.desk.tell(blog_id, events.question_closed(question_id))


class _DeskStream(StreamingResponse):
    """A desk's stream: it stops following when the answer ends, however it ends."""

    def __init__(
        self, stream: AsyncIterator[bytes], hub: Hub, blog_id: int, follower: DeskFollower
    ) -> None:
        super().__init__(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._hub, self._blog_id, self._follower = hub, blog_id, follower

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._hub.desk.leave(self._blog_id, self._follower)


def _sse(data: bytes) -> bytes:
    return b"data: %b\n\n" % data


@router.get(
    "/desk",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(401, 403, 404)},
)
async def desk(
    slug: str, db: DatabaseDep, hub: HubDep, settings: SettingsDep, _: StaffToken
) -> StreamingResponse:
    """The newsroom's desk (admins, editors, reporters), as Server-Sent Events: first the
    open questions (`questions`), then each `question.asked` and `question.closed` on any
    instance as it happens; `questions` again whenever some may have been missed."""
    async with db.read() as session:
        blog = await session.scalar(select(Blog).where(col(Blog.slug) == slug))
    if blog is None or blog.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    blog_id = blog.id
    follower = hub.desk.follow(blog_id)

    async def snapshot() -> bytes:
        follower.refreshed()
        async with db.read() as session:
            found = await _open_questions(session, slug)
        return _sse(orjson.dumps(events.questions(found)))

    async def stream() -> AsyncIterator[bytes]:
        yield await snapshot()
        while True:
            notice = await follower.next(settings.heartbeat_seconds)
            if notice is not None:
                yield _sse(notice)
            elif follower.stale.is_set():
                yield await snapshot()
            else:
                yield SSE_KEEP_ALIVE
            await asyncio.sleep(0)

    return _DeskStream(stream(), hub, blog_id, follower)
