"""Readers' questions to the newsroom: sent by anyone to a blog that accepts them (as JSON,
or by the page's form without JavaScript), pushed live to the newsroom's desks, answered
in an entry that quotes them, or dismissed. Only what is shown is stored; the limits keep
an address only as long as its window."""

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.api.deps import (
    BlogDep,
    DatabaseDep,
    HubDep,
    RowId,
    SessionDep,
    SettingsDep,
    StaffToken,
    client_network,
)
from app.api.errors import errors, within
from app.api.streams import EventStream
from app.domain import events, tags
from app.domain.alerts import plain_text
from app.domain.models import Blog, BlogStatus, Entry, EntryStatus, Question
from app.domain.questions import answer_body
from app.domain.render import render_markdown
from app.domain.shapes.entries import EntryPublic
from app.domain.shapes.questions import QuestionAnswer, QuestionAsk, QuestionList, QuestionPublic
from app.live.hub import Hub
from app.live.wire import SSE_KEEP_ALIVE, sse_data
from app.services import services
from app.site.rendering import blog_language, render
from app.store import bylines
from app.store.db import Database
from app.store.eventlog import Change
from app.store.publishing import add_published

router = APIRouter(prefix="/api/blogs/{slug}", tags=["questions"])
form_router = APIRouter(tags=["questions"])

QuestionId = RowId


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
    await within(
        parts.questions_per_address, client_network(request), "questions from this address"
    )
    assert blog.id is not None
    await within(parts.questions_per_blog, blog.id, "questions for this blog")
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
    question: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
) -> Response:
    """The page's form, without JavaScript: the same question, answered with a page."""
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
    body = render("asked.html", await blog_language(request, slug), slug=slug, code=code)
    return Response(body, code, headers=headers, media_type="text/html")


@router.get("/questions", response_model=QuestionList, responses=errors(401, 403, 404))
async def open_questions(blog: BlogDep, session: SessionDep, _: StaffToken) -> QuestionList:
    """The questions waiting for an answer, oldest first (admins, editors, reporters)."""
    assert blog.id is not None
    return QuestionList(questions=await _open_questions(session, blog.id))


async def _open_questions(session: AsyncSession, blog_id: int) -> list[QuestionPublic]:
    found = await session.scalars(
        select(Question)
        .where(col(Question.blog_id) == blog_id)
        .order_by(col(Question.asked_at), col(Question.id))
    )
    return [QuestionPublic.of(q) for q in found]


async def _question_of(change: Change, blog: Blog | None, question_id: int) -> Question:
    """The question, in the blog `change` has locked (404 if either is not there)."""
    question = await change.session.get(Question, question_id, populate_existing=True)
    if blog is None or question is None or question.blog_id != blog.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no question {question_id} here")
    return question


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
        blog = await change.claim_offset(slug)  # rolled back with the change if refused
        question = await _question_of(change, blog, question_id)
        assert blog is not None and blog.id is not None
        if blog.status == BlogStatus.ended:
            raise HTTPException(status.HTTP_409_CONFLICT, f"blog {slug!r} has ended")
        blog_id = blog.id
        body = answer_body(question.text, question.name, answer.answer)
        html = render_markdown(body, settings.mastodon_hosts)
        entry = Entry(
            blog_id=blog_id,
            headline=answer.headline or None,
            body=body,
            html=html,
            tags=tags.of_entry([], plain_text(html)),
            key_event=answer.key_event,
            author=token.name,
            author_token_id=token.id,
            author_ids=bylines.byline(token, None),
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
        blog = await change.lock(slug)
        await change.session.delete(await _question_of(change, blog, question_id))
        assert blog is not None and blog.id is not None
        blog_id = blog.id
    hub.desk.tell(blog_id, events.question_closed(question_id))


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
    blog_id = await hub.resolve(slug)
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    follower = hub.desk.follow(blog_id)

    async def snapshot() -> bytes:
        follower.refreshed()
        async with db.read() as session:
            found = await _open_questions(session, blog_id)
        return sse_data(orjson.dumps(events.questions(found)))

    async def stream() -> AsyncIterator[bytes]:
        yield await snapshot()
        while True:
            notice = await follower.next(settings.heartbeat_seconds)
            if notice is not None:
                yield sse_data(notice)
            elif follower.stale.is_set():
                yield await snapshot()
            else:
                yield SSE_KEEP_ALIVE

    return EventStream(stream(), lambda: hub.desk.leave(blog_id, follower))
