"""Who may do what to an entry, and where its status may go: the rules the entry
endpoints (app/api/entries.py) apply. Editors and admins change any entry; reporters their
own; contributors submit theirs, and change them only while they await approval. Drafts
and scheduled entries move freely and may be published; submissions are approved,
returned or resubmitted; a published entry stays published, and only its text's changes
may carry a correction."""

from datetime import datetime
from typing import Any

from fastapi import HTTPException, status

from app.domain.models import ApiToken, Entry, EntryCreate, EntryStatus, Role, now


def publication(
    wanted: EntryStatus | None, publish_at: datetime | None
) -> tuple[EntryStatus, datetime | None]:
    """The status an entry takes; a schedule already due publishes at once."""
    if publish_at is not None:
        if publish_at <= now():
            return EntryStatus.published, None
        return EntryStatus.scheduled, publish_at
    return wanted or EntryStatus.published, None


# A contributor's entries before an editor approves them: no offset, no event, unseen by
# readers (like drafts), seen in the newsroom by editors and by their own contributor.
SUBMISSIONS = (EntryStatus.submitted, EntryStatus.returned)


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


def may_change(token: ApiToken, entry: Entry) -> None:
    own = entry.author_token_id == token.id
    if token.role == Role.contributor and not (own and entry.status in SUBMISSIONS):
        raise forbidden("contributors may only change their own entries awaiting approval")
    if token.role == Role.reporter and not own:
        raise forbidden("reporters may only change their own entries")


def may_see(token: ApiToken | None, entry: Entry) -> bool:
    """Published entries are public; the rest is the newsroom's, and of a contributor's
    only their own."""
    if entry.status == EntryStatus.published:
        return True
    if token is None:
        return False
    return token.role != Role.contributor or entry.author_token_id == token.id


def contributor_submission(payload: EntryCreate) -> None:
    if payload.status not in (None, EntryStatus.submitted) or payload.publish_at is not None:
        raise forbidden("contributors submit entries; an editor publishes or schedules them")
    if payload.key_event or payload.pinned:
        raise forbidden("contributors cannot pin entries or mark key events")


def next_status(
    entry: Entry, wanted: EntryStatus | None, publish_at: datetime | None
) -> tuple[EntryStatus, datetime | None]:
    """Where a PATCH takes an entry's status: drafts and scheduled entries move freely and
    may be published; submissions are approved (published or scheduled), returned or
    resubmitted; a published entry stays published."""
    current = EntryStatus(entry.status)
    if current in SUBMISSIONS:
        if wanted in (EntryStatus.submitted, EntryStatus.returned) and publish_at is None:
            return wanted, None
        if wanted is None and publish_at is None:
            return current, None
        if wanted not in (None, EntryStatus.published, EntryStatus.scheduled):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "a submission is approved (published or scheduled) or returned",
            )
        return publication(wanted, publish_at)
    if wanted in SUBMISSIONS:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "only a contributor's entry is submitted or returned"
        )
    if current == EntryStatus.published:
        if wanted not in (None, EntryStatus.published) or publish_at is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "a published entry cannot become a draft or be scheduled; delete it instead",
            )
        return current, None
    if publish_at is not None or wanted is not None:
        return publication(wanted, publish_at)
    return current, entry.publish_at


def contributor_edit(
    changes: dict[str, Any],
    wanted: EntryStatus | None,
    publish_at: datetime | None,
    correction: str | None,
    review_note: str | None,
) -> None:
    """A contributor edits the text of a submission, and resubmits a returned one."""
    if set(changes) - {"headline", "body"} or correction or review_note:
        raise forbidden("contributors may change only the headline and body of a submission")
    if wanted not in (None, EntryStatus.submitted) or publish_at is not None:
        raise forbidden("contributors submit entries; an editor publishes or schedules them")


def check_correction(was_published: bool, changes: dict[str, Any]) -> None:
    if not was_published:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "a correction is for a published entry; a draft or scheduled one changes without",
        )
    if "body" not in changes and "headline" not in changes:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a correction goes with a change to the entry's headline or body",
        )
