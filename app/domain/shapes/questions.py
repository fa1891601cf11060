"""Readers' questions and the newsroom's answers."""

from datetime import datetime

from pydantic import StrictBool
from sqlmodel import SQLModel

from app.domain.models import Question
from app.domain.shapes.base import Input
from app.domain.text import Answer, AskerName, Headline, Honeypot, QuestionText


class QuestionAsk(Input):
    """A reader's question. `website` is a honeypot: hidden from people, filled by bots."""

    question: QuestionText
    name: AskerName
    website: Honeypot = ""


class QuestionPublic(SQLModel):
    id: int
    question: str
    name: str
    asked_at: datetime

    @classmethod
    def of(cls, question: Question) -> "QuestionPublic":
        assert question.id is not None
        return cls(
            id=question.id, question=question.text, name=question.name, asked_at=question.asked_at
        )


class QuestionList(SQLModel):
    questions: list[QuestionPublic]


class QuestionAnswer(Input):
    """The newsroom's answer: an entry that quotes the question, then says this."""

    answer: Answer
    headline: Headline | None = None
    key_event: StrictBool = False
