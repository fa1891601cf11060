"""Readers' questions answered in the blog: the entry that quotes a question, its asker's
name and the newsroom's answer. The reader's words are text, whatever they look like: every
ASCII punctuation character is escaped, so Markdown (and HTML) in them stays as typed."""

import re

from app.domain.models import ASKER_MAX, BODY_MAX, QUESTION_MAX

# The answer's own room in an entry: the body less the question and name, escaped (at most
# twice as long), and the quote's marks.
ANSWER_MAX = BODY_MAX - 2 * (QUESTION_MAX + ASKER_MAX) - 100

_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def literal(text: str) -> str:
    """`text` as Markdown that renders exactly as `text` (CommonMark backslash escapes)."""
    return _PUNCTUATION.sub(r"\\\1", text)


def answer_body(question: str, name: str, answer: str) -> str:
    """The entry's Markdown: the question quoted with its asker's name, then the answer."""
    lines = [f"> {literal(line)}" if line.strip() else ">" for line in question.splitlines()]
    return "\n".join([*lines, ">", f"> — {literal(name)}", "", answer])
