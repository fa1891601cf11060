"""What text the API takes: limits apply to the text as sent (as the OpenAPI document
says), then surrounding white space is trimmed; required text must not be blank once
trimmed; no NUL anywhere; times are ISO 8601 with a time zone."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

from app.domain.languages import language_tag
from app.domain.models import (
    ASKER_MAX,
    AUTHOR_ROLE_MAX,
    BODY_MAX,
    BOX_LABEL_MAX,
    BOX_NOTE_MAX,
    BOX_TITLE_MAX,
    BOX_VALUE_MAX,
    CORRECTION_MAX,
    DESCRIPTION_MAX,
    HEADLINE_MAX,
    LANGUAGE_MAX,
    NAME_MAX,
    NOTICE_MAX,
    POLL_OPTION_MAX,
    PUSH_ENDPOINT_MAX,
    QUESTION_MAX,
    REVIEW_NOTE_MAX,
    TITLE_MAX,
    URL_MAX,
)
from app.domain.questions import ANSWER_MAX
from app.domain.tags import TAG_MAX, TAG_PATTERN, valid


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL, and no human wrote one: refuse it everywhere.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _trim(value: str) -> str:
    return value.strip()


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


# Limits apply to the text as sent (as the OpenAPI document says), then surrounding
# white space is trimmed; required text must not be blank once trimmed.
Trimmed = AfterValidator(_trim)
NotBlank = AfterValidator(_not_blank)


def bounded(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length)


def _iso_text(value: object) -> object:
    # Pydantic would read a number as a Unix time; the API speaks ISO 8601 only.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date and time with a time zone")
    return value


NoNul = AfterValidator(_no_nul)
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
UtcMoment = Annotated[Moment, AfterValidator(lambda moment: moment.astimezone(UTC))]
Title = Annotated[str, bounded(TITLE_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Description = Annotated[str, bounded(DESCRIPTION_MAX), Trimmed, NoNul]
Notice = Annotated[str, bounded(NOTICE_MAX), Trimmed, NoNul]
Headline = Annotated[str, bounded(HEADLINE_MAX), Trimmed, NoNul]
Body = Annotated[str, bounded(BODY_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Name = Annotated[str, bounded(NAME_MAX, min_length=1), Trimmed, NotBlank, NoNul]
CorrectionNote = Annotated[str, bounded(CORRECTION_MAX, min_length=1), Trimmed, NotBlank, NoNul]
ReviewNote = Annotated[str, bounded(REVIEW_NOTE_MAX, min_length=1), Trimmed, NotBlank, NoNul]


LanguageTag = Annotated[str, bounded(LANGUAGE_MAX, min_length=1), AfterValidator(language_tag)]
BoxTitle = Annotated[str, bounded(BOX_TITLE_MAX), Trimmed, NoNul]
BoxLabel = Annotated[str, bounded(BOX_LABEL_MAX, min_length=1), Trimmed, NotBlank, NoNul]
BoxValue = Annotated[str, bounded(BOX_VALUE_MAX), Trimmed, NoNul]
BoxNote = Annotated[str, bounded(BOX_NOTE_MAX), Trimmed, NoNul]
PollOption = Annotated[str, bounded(POLL_OPTION_MAX, min_length=1), Trimmed, NotBlank, NoNul]
QuestionText = Annotated[str, bounded(QUESTION_MAX, min_length=1), Trimmed, NotBlank, NoNul]
AskerName = Annotated[str, bounded(ASKER_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Answer = Annotated[str, bounded(ANSWER_MAX, min_length=1), Trimmed, NotBlank, NoNul]
Honeypot = Annotated[str, bounded(200)]
# A tag as given ("Kharkiv" or "#Kharkiv"), kept as shown: lower case, without its "#".
Tag = Annotated[
    str, StringConstraints(max_length=TAG_MAX + 1, pattern=TAG_PATTERN), AfterValidator(valid)
]
AuthorRole = Annotated[str, bounded(AUTHOR_ROLE_MAX), Trimmed, NoNul]
# What a URL may hold after its scheme: no spaces, control characters, quotes or angle
# brackets.
_URL_REST = r"[^\s<>\"\x00-\x1f\x7f]+$"
# A link readers follow: http(s) only (never `javascript:`).
WebUrl = Annotated[str, StringConstraints(max_length=URL_MAX, pattern=r"^https?://" + _URL_REST)]
# An image: on the web, or uploaded here (POST /api/media answers with a /media/ address).
ImageUrl = Annotated[
    str, StringConstraints(max_length=URL_MAX, pattern=r"^(https?://|/media/)" + _URL_REST)
]
# A browser's push endpoint: a URL, checked as one when it subscribes (app/api/push.py).
PushEndpoint = Annotated[str, bounded(PUSH_ENDPOINT_MAX, min_length=1), NoNul]
