"""An entry's tags: given by the newsroom, or `#hashtags` in its text. A tag is a word
(letters, digits, `-` or `_`), lower case, without its `#`; an entry has at most TAGS_MAX."""

import re

TAG_MAX = 40
TAGS_MAX = 10
TAG_STORED_MAX = 2 * TAG_MAX  # lower case may be longer (ß: ss)
TAG_PATTERN = r"^#?[^\W_](?:[\w-]{0,38}[^\W_])?$"
_TAG = re.compile(TAG_PATTERN)
# A hashtag starts a word (not a URL's fragment, an HTML entity or `C#`) and is not a number.
_HASHTAG = re.compile(r"(?<![\w&#/])#([^\W\d_][\w-]*)")


def normal(tag: str) -> str:
    """The tag as stored and shown: lower case, no `#`."""
    return tag.strip().removeprefix("#").casefold()


def valid(tag: str) -> str:
    """`tag` made normal, or ValueError saying what a tag may be."""
    if not _TAG.match(tag.strip()):
        raise ValueError(
            f"a tag is 1 to {TAG_MAX} letters, digits, '-' or '_', starting and ending with a"
            " letter or digit"
        )
    return normal(tag)


def hashtags(text: str) -> list[str]:
    """The `#hashtags` in an entry's text (as readers read it), in order, each once."""
    found = (normal(m) for m in _HASHTAG.findall(text) if len(m) <= TAG_MAX)
    return list(dict.fromkeys(tag.rstrip("-_") for tag in found))


def of_entry(given: list[str], text: str) -> list[str]:
    """An entry's tags: those given, then the hashtags in its text, each once, TAGS_MAX at
    most."""
    return list(dict.fromkeys([*given, *hashtags(text)]))[:TAGS_MAX]
