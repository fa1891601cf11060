"""Entries: posted by any newsroom token, edited by editors or their own reporter;
contributors submit theirs for an editor's approval (the rules: app/domain/entry_rules.py)."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlalchemy import select
from sqlmodel import col

from app.api.deps import (
    BlogDep,
    CurrentToken,
    DatabaseDep,
    HubDep,
    MaybeToken,
    PostingToken,
    RowId,
    SessionDep,
    SettingsDep,
    unauthorized,
)
from app.api.errors import errors
from app.domain import entry_rules, events, tags
from app.domain.alerts import plain_text
from app.domain.filters import Filter
from app.domain.models import ApiToken, BlogStatus, Entry, EntryStatus, Role, now
from app.domain.paging import NEWEST_FIRST, encode_cursor, older_than
from app.domain.polls import poll_of
from app.domain.render import render_markdown
from app.domain.shapes.entries import (
    EntryCreate,
    EntryPage,
    EntryPreview,
    EntryPreviewRequest,
    EntryPublic,
    EntryUpdate,
)
from app.domain.tags import TAG_MAX
from app.site.history import History, load_history
from app.store import bylines
from app.store.eventlog import Change
from app.store.idempotency import Idempotent, KeyHeader
from app.store.publishing import add_published, alert_key_event, publish

router = APIRouter(prefix="/api/blogs/{slug}/entries", tags=["entries"])

EntryId = RowId
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')
# The patterns are documented; a header that breaks one answers 400, as the contract says.
IfMatch = Annotated[str | None, Header(json_schema_extra={"pattern": r'^(\*|(W/)?"?\d{1,18}"?)$'})]


def _not_found(slug: str, entry_id: int | None = None) -> HTTPException:
    what = f"no entry {entry_id} in blog {slug!r}" if entry_id else f"no blog {slug!r}"
    return HTTPException(status.HTTP_404_NOT_FOUND, what)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryPublic,
    responses=errors(400, 401, 404, 409, 413, 429),
)
async def create_entry(
    slug: str,
    payload: EntryCreate,
    response: Response,
    db: DatabaseDep,
    hub: HubDep,
    settings: SettingsDep,
    token: PostingToken,
    idempotency_key: KeyHeader = None,
) -> EntryPublic | Response:
    """Post an entry. With an `Idempotency-Key`, a retry returns the first result. A
    contributor's entry is `submitted`: an editor approves it."""
    assert token.id is not None
    idempotent = Idempotent.of(idempotency_key, token.id, [slug, payload.model_dump()])
    status_, publish_at = entry_rules.created(
        Role(token.role),
        payload.status,
        payload.publish_at,
        payload.key_event or payload.pinned or payload.poll is not None,
        now(),
    )
    if payload.poll is not None and payload.poll.closes_at is not None:
        if payload.poll.closes_at <= now():
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "a poll's closes_at must be in the future"
            )
    # Rendered before the blog is locked: the lock is held for the database's work alone.
    html = render_markdown(payload.body, settings.mastodon_hosts)
    shown_tags = tags.of_entry(payload.tags, plain_text(html))
    async with Change(db, hub) as change:
        if status_ == EntryStatus.published:
            blog = await change.claim_offset(slug)
        else:
            blog = await change.lock(slug)  # drafts take no offset: readers never see them
        if blog is None:
            raise _not_found(slug)
        if idempotent is not None:
            first = await idempotent.first_answer(change.session)
            if first is not None:
                change.abandon()
                return first
        if blog.status == BlogStatus.ended:
            raise HTTPException(status.HTTP_409_CONFLICT, f"blog {slug!r} has ended")
        assert blog.id is not None
        author_ids = await _byline(change, token, payload.authors)
        entry = Entry(
            blog_id=blog.id,
            headline=payload.headline or None,
            body=payload.body,
            html=html,
            tags=shown_tags,
            given_tags=payload.tags,
            key_event=payload.key_event,
            pinned=payload.pinned,
            author=token.name,
            author_token_id=token.id,
            author_ids=author_ids,
            status=status_,
            publish_at=publish_at,
            poll=None if payload.poll is None else poll_of(payload.poll),
        )
        if status_ == EntryStatus.published:
            public = await add_published(change, blog, entry)
        else:
            change.session.add(entry)
            await change.session.flush()
            public = await bylines.public(change.session, entry, slug)
        if idempotent is not None:
            idempotent.remember(change.session, public)
    response.headers["Location"] = f"/api/blogs/{slug}/entries/{entry.id}"
    response.headers["ETag"] = f'"{entry.version}"'
    return public


async def _byline(change: Change, token: ApiToken, named: list[int] | None) -> list[int]:
    """The authors of a token's new entry: those it names (422 for an unknown profile; a
    contributor names none), else its own profile."""
    assert token.id is not None
    if named is not None and token.role == Role.contributor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "contributors' entries carry their byline")
    if named and (unknown := await bylines.missing(change.session, named)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no author {unknown[0]}")
    return bylines.byline(token, named)


# Reading needs no token; one shows drafts too.
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}, {"HTTPBearer": []}]}


@router.get("", response_model=EntryPage, responses=errors(401, 404), openapi_extra=OPTIONAL_AUTH)
async def list_entries(
    blog: BlogDep,
    session: SessionDep,
    token: MaybeToken,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[EntryStatus, Query(alias="status")] = EntryStatus.published,
    tag: Annotated[str | None, Query(max_length=TAG_MAX + 1)] = None,
    key_events: bool = False,
    author: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> EntryPage:
    """Entries newest first by `published_at`; pass `next` back as `before` for older ones.
    Published entries may be filtered: `tag` (with or without its `#`), `key_events`,
    `author` (a profile's id).
    Drafts and scheduled entries (`status=draft|scheduled`) are listed to newsroom tokens;
    submissions (`status=submitted|returned`) too, and to a contributor only their own."""
    if status_ != EntryStatus.published and token is None:
        raise unauthorized()
    assert blog.id is not None
    query = select(Entry).where(col(Entry.blog_id) == blog.id, col(Entry.status) == status_)
    if status_ == EntryStatus.published:
        query = query.where(*Filter.of(tag, key_events, author).conditions(blog.id))
    if token is not None and status_ != EntryStatus.published:
        entry_rules.may_list(Role(token.role), status_)
        if token.role == Role.contributor:
            query = query.where(col(Entry.author_token_id) == token.id)
    if before is not None:
        query = query.where(older_than(before))
    query = query.order_by(*NEWEST_FIRST)
    query = query.limit(limit + 1)
    entries = list(await session.scalars(query))
    more = len(entries) > limit
    entries = entries[:limit]
    return EntryPage(
        entries=await bylines.publics(session, entries, blog.slug),
        next=encode_cursor(entries[-1]) if more else None,
    )


@router.get(
    "/{entry_id}",
    response_model=EntryPublic,
    responses=errors(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def get_entry(
    blog: BlogDep, entry_id: EntryId, session: SessionDep, token: MaybeToken, response: Response
) -> EntryPublic:
    """One entry; its `ETag` is its version, for `If-Match` on edits. Drafts and scheduled
    entries are found only with a newsroom token."""
    entry = await session.get(Entry, entry_id)
    if entry is None or entry.blog_id != blog.id:
        raise _not_found(blog.slug, entry_id)
    role = Role(token.role) if token is not None else None
    own = token is not None and entry.author_token_id == token.id
    if not entry_rules.may_see(role, own, EntryStatus(entry.status)):
        raise _not_found(blog.slug, entry_id)
    response.headers["ETag"] = f'"{entry.version}"'
    return await bylines.public(session, entry, blog.slug)


async def _locked_entry(change: Change, slug: str, entry_id: int) -> Entry:
    blog = await change.lock(slug)
    if blog is None:
        raise _not_found(slug)
    entry = await change.session.get(Entry, entry_id, populate_existing=True)
    if entry is None or entry.blog_id != blog.id:
        raise _not_found(slug, entry_id)
    return entry


def _check_if_match(if_match: str | None, entry: Entry) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    found = _IF_MATCH.match(if_match)
    if found is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, 'If-Match must be an entry version, e.g. "3"'
        )
    if int(found.group(1)) != entry.version:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            f"entry {entry.id} is at version {entry.version}; reload it and retry",
        )


@router.patch(
    "/{entry_id}",
    response_model=EntryPublic,
    responses=errors(400, 401, 403, 404, 409, 412, 413),
)
async def update_entry(
    slug: str,
    entry_id: EntryId,
    payload: EntryUpdate,
    response: Response,
    db: DatabaseDep,
    hub: HubDep,
    settings: SettingsDep,
    token: CurrentToken,
    if_match: IfMatch = None,
) -> EntryPublic:
    """Edit an entry. `published_at` never changes; an edit of a published entry's text sets
    `updated_at`, and may carry a `correction` note that readers see with it.
    `status: "published"` publishes a draft or scheduled entry now."""
    changes = payload.model_dump(exclude_unset=True)
    if "body" in changes and changes["body"] is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "body cannot be null")
    for flag in ("key_event", "pinned"):
        if flag in changes and changes[flag] is None:
            del changes[flag]
    if "headline" in changes:
        changes["headline"] = changes["headline"] or None
    wanted, publish_at = changes.pop("status", None), changes.pop("publish_at", None)
    correction = changes.pop("correction", None)
    review_note = changes.pop("review_note", None)
    entry_rules.check_edit(
        Role(token.role),
        changes,
        wanted,
        publish_at,
        correction is not None,
        review_note is not None,
    )

    async with Change(db, hub) as change:
        entry = await _locked_entry(change, slug, entry_id)
        entry_rules.may_change(
            Role(token.role), entry.author_token_id == token.id, EntryStatus(entry.status)
        )
        _check_if_match(if_match, entry)
        was_published = entry.status == EntryStatus.published
        given = changes.pop("tags", entry.given_tags)  # the shown ones are `tags`, below
        if "authors" in changes:
            named = changes.pop("authors") or []
            if unknown := await bylines.missing(change.session, named):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"no author {unknown[0]}"
                )
            changes["author_ids"] = list(dict.fromkeys(named))
        changes = {k: v for k, v in changes.items() if getattr(entry, k) != v}
        next_status, next_publish_at = entry_rules.edited(
            EntryStatus(entry.status),
            entry.publish_at,
            changes,
            wanted,
            publish_at,
            correction is not None,
            now(),
        )
        if review_note is not None:
            entry.review_note = review_note
        if "body" in changes or given != entry.given_tags:
            html = render_markdown(changes.get("body", entry.body), settings.mastodon_hosts)
            shown = tags.of_entry(given, plain_text(html))
            entry.given_tags = given
            if shown != entry.tags:
                changes["tags"] = shown
            entry.html = html
        if was_published and ("body" in changes or "headline" in changes):
            entry.updated_at = now()
        for field, value in changes.items():
            setattr(entry, field, value)
        if next_status == EntryStatus.published and not was_published:
            public = await publish(change, slug, entry)
        elif (
            changes
            or review_note
            or (next_status, next_publish_at) != (entry.status, entry.publish_at)
        ):
            entry.status, entry.publish_at = next_status, next_publish_at
            entry.version += 1
            if correction is not None:
                assert entry.updated_at is not None
                note = {"note": correction, "at": entry.updated_at.isoformat()}
                entry.corrections = [*entry.corrections, {**note, "version": entry.version}]
            await change.session.flush()
            public = await bylines.public(change.session, entry, slug)
            if was_published:
                blog = await change.claim_offset(slug)
                assert blog is not None
                change.append(blog, events.entry_updated(public))
                if changes.get("key_event"):  # made a key event now: its subscribers hear
                    await alert_key_event(change, blog, public)
        else:
            change.abandon()
            public = await bylines.public(change.session, entry, slug)
    response.headers["ETag"] = f'"{public.version}"'
    return public


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 401, 403, 404, 412),
)
async def delete_entry(
    slug: str,
    entry_id: EntryId,
    db: DatabaseDep,
    hub: HubDep,
    token: CurrentToken,
    if_match: IfMatch = None,
) -> None:
    """Delete an entry; readers are told to remove it (if they ever saw it)."""
    async with Change(db, hub) as change:
        entry = await _locked_entry(change, slug, entry_id)
        entry_rules.may_change(
            Role(token.role), entry.author_token_id == token.id, EntryStatus(entry.status)
        )
        _check_if_match(if_match, entry)
        published = entry.status == EntryStatus.published
        await change.session.delete(entry)
        if published:
            blog = await change.claim_offset(slug)
            assert blog is not None
            change.append(blog, events.entry_deleted(entry_id))


@router.get("/{entry_id}/versions", response_model=History, responses=errors(404))
async def entry_versions(blog: BlogDep, entry_id: EntryId, session: SessionDep) -> History:
    """A published entry's versions as readers saw them, oldest first, each with the
    correction note its edit carried and what changed from the one before. Changes of
    `pinned` or `key_event` make no version."""
    entry = await session.get(Entry, entry_id)
    if entry is None or entry.blog_id != blog.id or entry.status != EntryStatus.published:
        raise _not_found(blog.slug, entry_id)
    assert blog.id is not None
    history = await load_history(session, blog.id, entry_id)
    if history is None:
        raise _not_found(blog.slug, entry_id)
    return history


preview_router = APIRouter(prefix="/api/preview", tags=["entries"])


@preview_router.post("", response_model=EntryPreview, responses=errors(400, 401, 413))
async def preview(
    payload: EntryPreviewRequest, settings: SettingsDep, _: CurrentToken
) -> EntryPreview:
    """The HTML an entry body renders to, exactly as readers will get it; nothing is
    stored."""
    return EntryPreview(html=render_markdown(payload.body, settings.mastodon_hosts))
