"""Blogs: created and changed by admins, read by anyone; their results box, kept by the
newsroom's staff."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from app.api.deps import (
    AdminToken,
    BlogDep,
    CurrentToken,
    DatabaseDep,
    HubDep,
    SessionDep,
    SettingsDep,
    StaffToken,
)
from app.api.errors import errors
from app.domain import alerts, events
from app.domain.models import Blog, BlogStatus, now
from app.domain.shapes.blogs import (
    AudiencePublic,
    BlogCreate,
    BlogList,
    BlogPublic,
    BlogUpdate,
    ResultsBox,
)
from app.live.hub import Hub
from app.services import services
from app.site.i18n import language
from app.store import push
from app.store.db import Database
from app.store.eventlog import Change
from app.store.publishing import published_any

router = APIRouter(prefix="/api/blogs", tags=["blogs"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BlogPublic,
    responses=errors(400, 401, 403, 409, 413),
)
async def create_blog(
    payload: BlogCreate, db: DatabaseDep, hub: HubDep, settings: SettingsDep, _: AdminToken
) -> BlogPublic:
    """Create a live blog (admin). Its `language` (BCP 47) is `DEFAULT_LANGUAGE` unless
    given. With `starts_at` it is announced ("upcoming") and goes live with its first
    entry."""
    try:
        async with db.write() as session:
            blog = Blog(**payload.model_dump(exclude={"language"}))
            blog.language = payload.language or settings.default_language
            if payload.starts_at is not None:
                blog.status = BlogStatus.upcoming
            session.add(blog)
            await session.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a blog with slug {payload.slug!r} exists"
        ) from None
    hub.forget_unknown(blog.slug)
    return BlogPublic.of(blog)


@router.get("", response_model=BlogList, responses=errors())
async def list_blogs(session: SessionDep) -> BlogList:
    """All blogs, live ones first, then upcoming, then ended; newest first."""
    live_first = case(
        (col(Blog.status) == BlogStatus.live, 0),
        (col(Blog.status) == BlogStatus.upcoming, 1),
        else_=2,
    )
    blogs = await session.scalars(
        select(Blog).order_by(live_first, col(Blog.created_at).desc(), col(Blog.id).desc())
    )
    return BlogList(blogs=[BlogPublic.of(b) for b in blogs])


@router.get("/{slug}", response_model=BlogPublic, responses=errors(404))
async def get_blog(blog: BlogDep) -> BlogPublic:
    """One blog, with `offset`: the offset of its latest event."""
    return BlogPublic.of(blog)


@router.get("/{slug}/audience", response_model=AudiencePublic, responses=errors(401, 404))
async def blog_audience(blog: BlogDep, request: Request, _: CurrentToken) -> AudiencePublic:
    """How many readers the blog has right now, on every instance (any newsroom token).
    Counted every `AUDIENCE_SECONDS`; ask as often as you like, it costs no query."""
    assert blog.id is not None
    count = services(request.app).audience.count(blog.id)
    return AudiencePublic(readers=count.readers, instances=count.instances, at=count.at)


@router.patch("/{slug}", response_model=BlogPublic, responses=errors(400, 401, 403, 404, 413))
async def update_blog(
    slug: str, payload: BlogUpdate, db: DatabaseDep, hub: HubDep, _: AdminToken
) -> BlogPublic:
    """Change a blog's title, description, notice or language, or end (or reopen) it
    (admin). `starts_at` announces (or moves) its start while no entry is out: the blog is
    upcoming until then; `status: live` starts it now."""
    changes = payload.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "title cannot be null")
    if changes.get("notice") == "":
        changes["notice"] = None
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    for optional in ("status", "language", "show_audience", "accepts_questions", "starts_at"):
        if optional in changes and changes[optional] is None:
            del changes[optional]
    if changes.get("status") == BlogStatus.upcoming:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a blog is upcoming by its starts_at, until its first entry",
        )
    return await _changed(db, hub, slug, changes)


async def _changed(db: Database, hub: Hub, slug: str, changes: dict[str, Any]) -> BlogPublic:
    """The blog with `changes` made: one `blog.updated` event, or none if nothing changes."""
    async with Change(db, hub) as change:
        blog = await change.claim_offset(slug)
        if blog is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
        changes = {k: v for k, v in changes.items() if getattr(blog, k) != v}
        if not changes:
            change.abandon()  # and with it the offset just claimed
            return BlogPublic.of(blog).model_copy(update={"offset": blog.last_offset - 1})
        if "starts_at" in changes:
            if blog.status == BlogStatus.ended or await published_any(change.session, blog):
                raise HTTPException(status.HTTP_409_CONFLICT, "this blog has started")
            if changes.get("status") != BlogStatus.ended:
                changes["status"] = BlogStatus.upcoming
        if changes.get("status") == BlogStatus.ended:  # the last notification it sends
            words = language(blog.language).gettext("This live blog has ended.")
            assert blog.id is not None
            await push.enqueue(change.session, blog.id, alerts.ended(blog.title, slug, words))
        if "status" in changes:
            blog.ended_at = now() if changes["status"] == BlogStatus.ended else None
            blog.archived_at = None  # reopened (or ended anew): live readers may come back
            if changes["status"] == BlogStatus.live and blog.status == BlogStatus.upcoming:
                blog.starts_at = now()
        for field, value in changes.items():
            setattr(blog, field, value)
        public = BlogPublic.of(blog)
        change.append(blog, events.blog_updated(public))
    return public


@router.put("/{slug}/box", response_model=BlogPublic, responses=errors(400, 401, 403, 404, 413))
async def set_box(
    slug: str, box: ResultsBox, db: DatabaseDep, hub: HubDep, _: StaffToken
) -> BlogPublic:
    """Show this results box above the blog's feed, in place of the one before (admins,
    editors, reporters). Readers get it at once, as the blog's state: a `blog.updated`
    event, and in the `hello` of every reader that joins."""
    return await _changed(db, hub, slug, {"box": box.model_dump(mode="json")})


@router.delete(
    "/{slug}/box", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404)
)
async def remove_box(slug: str, db: DatabaseDep, hub: HubDep, _: StaffToken) -> None:
    """Take the results box away (admins, editors, reporters)."""
    await _changed(db, hub, slug, {"box": None})
