"""Who may do what to an entry, and where its status goes: every role, every status,
every change, against the rules in app/domain/entry_rules.py."""

from datetime import timedelta

import pytest

from app.domain import entry_rules
from app.domain.errors import Conflict, Invalid, NotAllowed, Refusal
from app.domain.models import EntryStatus, Role, now

AT = now()
LATER = AT + timedelta(hours=1)
SHORT = {
    EntryStatus.published: "pub",
    EntryStatus.draft: "draft",
    EntryStatus.scheduled: "sched",
    EntryStatus.submitted: "subm",
    EntryStatus.returned: "ret",
}
REFUSED = {NotAllowed: "403", Conflict: "409", Invalid: "422"}
# Who edits: a role, and whether the entry is their own ("admin" and "editor": anyone's).
WHO = {
    "admin": (Role.admin, False),
    "editor": (Role.editor, False),
    "reporter, own": (Role.reporter, True),
    "reporter": (Role.reporter, False),
    "contributor, own": (Role.contributor, True),
    "contributor": (Role.contributor, False),
}
# What the edit asks: keyword arguments for `check_edit` and `edited`.
CHANGES: dict[str, dict[str, object]] = {
    "text": {"fields": {"body"}},
    "correct": {"fields": {"body"}, "correction": True},
    "pin": {"fields": {"pinned"}},
    "publish": {"wanted": EntryStatus.published},
    "schedule": {"publish_at": LATER},
    "draft": {"wanted": EntryStatus.draft},
    "submit": {"wanted": EntryStatus.submitted},
    "return": {"wanted": EntryStatus.returned, "review_note": True},
}
# For each change and who asks it, where an entry in each status ends up, in the order
# published, draft, scheduled, submitted, returned; or the status of the refusal.
EDITS = {
    "text": {
        "admin": "pub   draft sched subm  ret",
        "editor": "pub   draft sched subm  ret",
        "reporter, own": "pub   draft sched subm  ret",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   subm  ret",
        "contributor": "403   403   403   403   403",
    },
    "correct": {
        "admin": "pub   409   409   409   409",
        "editor": "pub   409   409   409   409",
        "reporter, own": "pub   409   409   409   409",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
    "pin": {
        "admin": "pub   draft sched subm  ret",
        "editor": "pub   draft sched subm  ret",
        "reporter, own": "pub   draft sched subm  ret",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
    "publish": {
        "admin": "pub   pub   pub   pub   pub",
        "editor": "pub   pub   pub   pub   pub",
        "reporter, own": "pub   pub   pub   pub   pub",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
    "schedule": {
        "admin": "409   sched sched sched sched",
        "editor": "409   sched sched sched sched",
        "reporter, own": "409   sched sched sched sched",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
    "draft": {
        "admin": "409   draft draft 409   409",
        "editor": "409   draft draft 409   409",
        "reporter, own": "409   draft draft 409   409",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
    "submit": {
        "admin": "409   409   409   subm  subm",
        "editor": "409   409   409   subm  subm",
        "reporter, own": "409   409   409   subm  subm",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   subm  subm",
        "contributor": "403   403   403   403   403",
    },
    "return": {
        "admin": "409   409   409   ret   ret",
        "editor": "409   409   409   ret   ret",
        "reporter, own": "409   409   409   ret   ret",
        "reporter": "403   403   403   403   403",
        "contributor, own": "403   403   403   403   403",
        "contributor": "403   403   403   403   403",
    },
}


def _edit(
    who: str,
    status: EntryStatus,
    fields: set[str] | None = None,
    wanted: EntryStatus | None = None,
    publish_at: object = None,
    correction: bool = False,
    review_note: bool = False,
) -> str:
    role, own = WHO[who]
    assert publish_at is None or publish_at is LATER
    try:
        entry_rules.check_edit(role, fields or (), wanted, LATER if publish_at else None,
                               correction, review_note)  # fmt: skip
        entry_rules.may_change(role, own, status)
        ends, _ = entry_rules.edited(
            status, None, fields or (), wanted, LATER if publish_at else None, correction, AT
        )
    except Refusal as refusal:
        return REFUSED[type(refusal)]
    return SHORT[ends]


@pytest.mark.parametrize("change", EDITS)
@pytest.mark.parametrize("who", WHO)
def test_every_role_status_and_change(change: str, who: str) -> None:
    found = [_edit(who, status, **CHANGES[change]) for status in SHORT]  # type: ignore[arg-type]
    assert found == EDITS[change][who].split()


# Deleting follows `may_change`; seeing, `may_see` (None: no token at all).
DELETES = {
    "admin": "ok ok ok ok ok",
    "editor": "ok ok ok ok ok",
    "reporter, own": "ok ok ok ok ok",
    "reporter": "403 403 403 403 403",
    "contributor, own": "403 403 403 ok ok",
    "contributor": "403 403 403 403 403",
}
SEES = {
    "admin": "yes yes yes yes yes",
    "editor": "yes yes yes yes yes",
    "reporter": "yes yes yes yes yes",
    "contributor, own": "yes yes yes yes yes",
    "contributor": "yes no no no no",
}


@pytest.mark.parametrize("who", DELETES)
def test_who_deletes_what(who: str) -> None:
    role, own = WHO[who]
    found = []
    for status in SHORT:
        try:
            entry_rules.may_change(role, own, status)
            found.append("ok")
        except NotAllowed:
            found.append("403")
    assert found == DELETES[who].split()


@pytest.mark.parametrize("who", SEES)
def test_who_sees_what(who: str) -> None:
    role, own = WHO[who]
    found = ["yes" if entry_rules.may_see(role, own, s) else "no" for s in SHORT]
    assert found == SEES[who].split()
    assert [entry_rules.may_see(None, False, s) for s in SHORT] == [True] + [False] * 4


# A new entry: the status asked for (None: not said; "later": a schedule) -> where it starts.
CREATES = {
    Role.editor: "pub pub draft sched 422 422",
    Role.reporter: "pub pub draft sched 422 422",
    Role.contributor: "subm 403 403 403 subm 403",
}
ASKED = [None, EntryStatus.published, EntryStatus.draft, "later", EntryStatus.submitted,
         EntryStatus.returned]  # fmt: skip


@pytest.mark.parametrize("role", CREATES)
def test_where_a_new_entry_starts(role: Role) -> None:
    found = []
    for asked in ASKED:
        wanted = None if asked == "later" else asked
        try:
            status, _ = entry_rules.created(
                role,
                wanted,
                LATER if asked == "later" else None,
                False,
                AT,  # type: ignore[arg-type]
            )
            found.append(SHORT[status])
        except Refusal as refusal:
            found.append(REFUSED[type(refusal)])
    assert found == CREATES[role].split()


def test_contributors_neither_pin_nor_mark_key_events() -> None:
    with pytest.raises(NotAllowed):
        entry_rules.created(Role.contributor, None, None, True, AT)
    assert entry_rules.created(Role.editor, None, None, True, AT) == (EntryStatus.published, None)


def test_a_schedule_already_due_publishes_at_once() -> None:
    earlier = AT - timedelta(seconds=1)
    assert entry_rules.created(Role.editor, None, earlier, False, AT) == (
        EntryStatus.published, None)  # fmt: skip
    assert entry_rules.created(Role.editor, None, LATER, False, AT) == (
        EntryStatus.scheduled, LATER)  # fmt: skip


def test_the_scheduler_publishes_scheduled_entries_when_due() -> None:
    assert entry_rules.due(EntryStatus.scheduled, AT, AT)
    assert not entry_rules.due(EntryStatus.scheduled, LATER, AT)
    for status in (EntryStatus.draft, EntryStatus.published, EntryStatus.submitted):
        assert not entry_rules.due(status, AT, AT)


def test_contributors_list_published_entries_and_submissions_only() -> None:
    for status in (EntryStatus.published, EntryStatus.submitted, EntryStatus.returned):
        entry_rules.may_list(Role.contributor, status)
    for status in (EntryStatus.draft, EntryStatus.scheduled):
        with pytest.raises(NotAllowed):
            entry_rules.may_list(Role.contributor, status)
        entry_rules.may_list(Role.reporter, status)
