"""Who may do what to an entry, and where its status may go: pure rules, used by the API
(app/api/entries.py) and the scheduler (app/store/publishing.py) alike, refusing with the
domain's errors (app/domain/errors.py).

Editors and admins change any entry; reporters their own; contributors submit theirs, and
change them only while they await approval. Drafts and scheduled entries move freely and
may be published; submissions are approved, returned or resubmitted; a published entry
stays published, and only its text's changes may carry a correction."""

from collections.abc import Collection
from datetime import datetime

from app.domain.errors import Conflict, Invalid, NotAllowed
from app.domain.models import EntryStatus, Role

# A contributor's entries before an editor approves them: no offset, no event, unseen by
# readers (like drafts), seen in the newsroom by editors and by their own contributor.
SUBMISSIONS = (EntryStatus.submitted, EntryStatus.returned)
# What a contributor may change in a submission.
CONTRIBUTOR_FIELDS = frozenset({"headline", "body", "tags"})
TEXT_FIELDS = frozenset({"headline", "body"})


def publication(
    wanted: EntryStatus | None, publish_at: datetime | None, at: datetime
) -> tuple[EntryStatus, datetime | None]:
    """The status an entry takes; a schedule already due at `at` publishes at once."""
    if publish_at is not None:
        if publish_at <= at:
            return EntryStatus.published, None
        return EntryStatus.scheduled, publish_at
    return wanted or EntryStatus.published, None


def created(
    role: Role,
    wanted: EntryStatus | None,
    publish_at: datetime | None,
    flagged: bool,
    at: datetime,
) -> tuple[EntryStatus, datetime | None]:
    """Where a new entry starts; `flagged`: it is pinned, a key event or carries a poll."""
    if role == Role.contributor:
        if wanted not in (None, EntryStatus.submitted) or publish_at is not None:
            raise NotAllowed("contributors submit entries; an editor publishes or schedules them")
        if flagged:
            raise NotAllowed("contributors cannot pin entries, mark key events or add polls")
        return EntryStatus.submitted, None
    if wanted in SUBMISSIONS:
        raise Invalid("only contributors submit entries")
    return publication(wanted, publish_at, at)


def may_see(role: Role | None, own: bool, status: EntryStatus) -> bool:
    """Published entries are public; the rest is the newsroom's, and of a contributor's
    only their own. `role` None: no token."""
    if status == EntryStatus.published:
        return True
    if role is None:
        return False
    return role != Role.contributor or own


def may_list(role: Role, status: EntryStatus) -> None:
    """A newsroom token lists entries of `status` (a contributor: only their own)."""
    if role == Role.contributor and status not in (EntryStatus.published, *SUBMISSIONS):
        raise NotAllowed("contributors see published entries and their own submissions")


def may_change(role: Role, own: bool, status: EntryStatus) -> None:
    """Edit or delete the entry."""
    if role == Role.contributor and not (own and status in SUBMISSIONS):
        raise NotAllowed("contributors may only change their own entries awaiting approval")
    if role == Role.reporter and not own:
        raise NotAllowed("reporters may only change their own entries")


def check_edit(
    role: Role,
    fields: Collection[str],
    wanted: EntryStatus | None,
    publish_at: datetime | None,
    correction: bool,
    review_note: bool,
) -> None:
    """What an edit asks may be asked at all, whatever the entry: `fields` it sets,
    the status `wanted`, a schedule, a correction note, a review note."""
    if role == Role.contributor:
        if set(fields) - CONTRIBUTOR_FIELDS or correction or review_note:
            raise NotAllowed(
                "contributors may change only the headline, body and tags of a submission"
            )
        if wanted not in (None, EntryStatus.submitted) or publish_at is not None:
            raise NotAllowed("contributors submit entries; an editor publishes or schedules them")
    if (wanted == EntryStatus.returned) != review_note:
        raise Invalid(
            "a returned submission needs a review_note, and a review_note needs "
            '`status: "returned"`'
        )


def next_status(
    current: EntryStatus,
    scheduled_for: datetime | None,
    wanted: EntryStatus | None,
    publish_at: datetime | None,
    at: datetime,
) -> tuple[EntryStatus, datetime | None]:
    """Where an edit takes an entry's status: drafts and scheduled entries move freely and
    may be published; submissions are approved (published or scheduled), returned or
    resubmitted; a published entry stays published."""
    if current in SUBMISSIONS:
        if wanted in SUBMISSIONS and publish_at is None:
            return wanted, None
        if wanted is None and publish_at is None:
            return current, None
        if wanted not in (None, EntryStatus.published, EntryStatus.scheduled):
            raise Conflict("a submission is approved (published or scheduled) or returned")
        return publication(wanted, publish_at, at)
    if wanted in SUBMISSIONS:
        raise Conflict("only a contributor's entry is submitted or returned")
    if current == EntryStatus.published:
        if wanted not in (None, EntryStatus.published) or publish_at is not None:
            raise Conflict(
                "a published entry cannot become a draft or be scheduled; delete it instead"
            )
        return current, None
    if publish_at is not None or wanted is not None:
        return publication(wanted, publish_at, at)
    return current, scheduled_for


def edited(
    current: EntryStatus,
    scheduled_for: datetime | None,
    changed: Collection[str],
    wanted: EntryStatus | None,
    publish_at: datetime | None,
    correction: bool,
    at: datetime,
) -> tuple[EntryStatus, datetime | None]:
    """Where an edit takes an entry its token `may_change`, the request being through
    `check_edit`; `changed` are the fields whose values the edit changes."""
    status, scheduled = next_status(current, scheduled_for, wanted, publish_at, at)
    if correction:
        if current != EntryStatus.published:
            raise Conflict(
                "a correction is for a published entry; a draft or scheduled one changes without"
            )
        if not TEXT_FIELDS & set(changed):
            raise Invalid("a correction goes with a change to the entry's headline or body")
    return status, scheduled


def due(status: EntryStatus, scheduled_for: datetime | None, at: datetime) -> bool:
    """Whether the scheduler publishes the entry at `at`."""
    return status == EntryStatus.scheduled and scheduled_for is not None and scheduled_for <= at
