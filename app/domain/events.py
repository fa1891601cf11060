"""The events readers receive, named and built in one place (docs/API.md, "Live events").

Each logged event is `{"type": ..., "offset": ..., ...}`; `hello` is sent to each reader
as it joins and is never logged. The web clients use the same names (web/events.js).
"""

from enum import StrEnum
from typing import Any

from app.domain.shapes.blogs import BlogPublic
from app.domain.shapes.bylines import AuthorPublic
from app.domain.shapes.entries import EntryPublic
from app.domain.shapes.questions import QuestionPublic


class EventType(StrEnum):
    ENTRY_CREATED = "entry.created"
    ENTRY_UPDATED = "entry.updated"
    ENTRY_DELETED = "entry.deleted"
    BLOG_UPDATED = "blog.updated"
    AUTHOR_UPDATED = "author.updated"  # a profile in the blog's bylines changed
    HELLO = "hello"
    AUDIENCE = "audience"  # a notice: never logged, no offset
    POLL_RESULTS = "poll.results"  # a notice: the blog's polls' results, every few seconds


def entry_created(entry: EntryPublic) -> dict[str, Any]:
    return {"type": EventType.ENTRY_CREATED, "entry": entry.model_dump(mode="json")}


def entry_updated(entry: EntryPublic) -> dict[str, Any]:
    return {"type": EventType.ENTRY_UPDATED, "entry": entry.model_dump(mode="json")}


def entry_deleted(entry_id: int) -> dict[str, Any]:
    return {"type": EventType.ENTRY_DELETED, "entry_id": entry_id}


def blog_updated(blog: BlogPublic) -> dict[str, Any]:
    return {"type": EventType.BLOG_UPDATED, "blog": blog.model_dump(mode="json")}


def author_updated(author: AuthorPublic) -> dict[str, Any]:
    """A profile changed: every entry of the blog bylined with it shows it so."""
    return {"type": EventType.AUTHOR_UPDATED, "author": author.model_dump(mode="json")}


def audience(readers: int) -> dict[str, Any]:
    """How many read the blog now (to readers of blogs that show it)."""
    return {"type": EventType.AUDIENCE, "readers": readers}


def poll_results(results: dict[str, Any]) -> dict[str, Any]:
    """The results of the blog's polls with votes, by entry id (a notice to its readers)."""
    return {"type": EventType.POLL_RESULTS, "polls": results}


def hello(blog: dict[str, Any], offset: int) -> dict[str, Any]:
    """What a reader is sent first: where delivery starts, in which stream (the epoch the
    offsets count in), and the blog as of there."""
    return {
        "type": EventType.HELLO,
        "offset": offset,
        "epoch": blog["epoch"],
        "blog": {**blog, "offset": offset},
    }


class DeskEventType(StrEnum):
    """What the newsroom's desk stream carries (never readers'): readers' questions."""

    QUESTIONS = "questions"  # the open questions, when the stream starts (and after a gap)
    QUESTION_ASKED = "question.asked"
    QUESTION_CLOSED = "question.closed"  # answered (with the entry) or dismissed


def questions(open_questions: list[QuestionPublic]) -> dict[str, Any]:
    return {
        "type": DeskEventType.QUESTIONS,
        "questions": [q.model_dump(mode="json") for q in open_questions],
    }


def question_asked(question: QuestionPublic) -> dict[str, Any]:
    return {"type": DeskEventType.QUESTION_ASKED, "question": question.model_dump(mode="json")}


def question_closed(question_id: int, entry_id: int | None = None) -> dict[str, Any]:
    """`entry_id`: the entry that answered it; None: dismissed."""
    return {"type": DeskEventType.QUESTION_CLOSED, "question_id": question_id, "entry_id": entry_id}
