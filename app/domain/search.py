"""What a search finds, independent of the database: words normalised and stemmed in the
blog's language, a reader's query read (words, "phrases", -excluded, OR), and a snippet of
an entry's text with what matched marked.

SQLite's FTS5 is given the stems made here; Postgres stems with its own text search
configuration of the same Snowball algorithm (`config`), so both find the same entries.
"""

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

import Stemmer

QUERY_MAX = 200
PAGES_MAX = 50  # a search is read this many pages deep at most
TERMS_MAX = 16
SNIPPET_WORDS = 30

# A blog's language (its primary subtag) -> the Snowball stemmer, and Postgres's
# configuration of it. Any other language is searched word for word ("simple").
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
# A word: letters and digits, with the marks that sit on them (Arabic vowels, accents).
_WORD = re.compile(r"(?:[^\W_][\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670]*)+")
# Arabic: short vowels and other marks, and the tatweel, go; letter variants become one.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def config(language: str) -> str:
    """The Snowball algorithm (and Postgres text search configuration) of a language."""
    return _SNOWBALL.get(language.split("-")[0].lower(), "simple")


@cache
def _stemmer(algorithm: str) -> "Stemmer.Stemmer | None":
    return None if algorithm == "simple" else Stemmer.Stemmer(algorithm, 0)


def normalise(text: str) -> str:
    """Compatibility forms folded, lower case, Arabic marks and letter variants folded."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)


def stems(words: list[str], algorithm: str) -> list[str]:
    stemmer = _stemmer(algorithm)
    return words if stemmer is None else stemmer.stemWords(words)


def terms(text: str, algorithm: str) -> str:
    """The text as the index holds it: its words' stems, space separated."""
    return " ".join(stems(_WORD.findall(normalise(text)), algorithm))


@dataclass
class Query:
    """A reader's query: any of `groups` (OR), each all of its phrases (a word is a phrase
    of one), and none of `excluded`."""

    groups: list[list[list[str]]] = field(default_factory=list)
    excluded: list[list[str]] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        phrases = [p for group in self.groups for p in group]
        return [word for phrase in phrases for word in phrase]

    def __bool__(self) -> bool:
        return bool(self.words)


_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse(text: str) -> Query:
    """Read a query as search engines do: `kharkiv "power plant" -rumour`, `a OR b`."""
    query = Query(groups=[[]])
    count = 0
    for negated, quoted, bare in _PART.findall(text[:QUERY_MAX]):
        if bare.casefold() == "or":
            if query.groups[-1]:
                query.groups.append([])
            continue
        if bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = _WORD.findall(normalise(quoted or bare))[: TERMS_MAX - count]
        if not words:
            continue
        count += len(words)
        (query.excluded if negated else query.groups[-1]).append(words)
    query.groups = [group for group in query.groups if group]
    return query


def fts5(query: Query, algorithms: list[str]) -> str:
    """The query in FTS5's syntax, its words stemmed by each of `algorithms` (a search over
    blogs of several languages matches each blog's stems)."""

    def phrase(words: list[str], algorithm: str) -> str:
        return '"' + " ".join(stems(words, algorithm)) + '"'  # stems hold no quote

    alternatives = []
    for algorithm in dict.fromkeys(algorithms):
        for group in query.groups:
            alternatives.append("(" + " AND ".join(phrase(p, algorithm) for p in group) + ")")
    expression = "(" + " OR ".join(dict.fromkeys(alternatives)) + ")"
    excluded = [phrase(w, a) for a in dict.fromkeys(algorithms) for w in query.excluded]
    return expression + "".join(f" NOT {p}" for p in dict.fromkeys(excluded))


def postgres(query: Query) -> str:
    """The query for Postgres's `websearch_to_tsquery`, read as `parse` read it."""

    def phrase(words: list[str]) -> str:
        return '"' + " ".join(words) + '"'

    groups = [" ".join(phrase(p) for p in group) for group in query.groups]
    return " or ".join(groups) + "".join(f" -{phrase(words)}" for words in query.excluded)


def snippet(text: str, query: Query, algorithm: str, width: int = SNIPPET_WORDS) -> str:
    """HTML: the stretch of `text` (at most `width` words) with the most words the query
    matched, each in <mark>; everything else escaped."""
    wanted = set(stems(query.words, algorithm))
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return ""
    words = stems([normalise(text[a:b]) for a, b in spans], algorithm)
    hits = [stem in wanted for stem in words]
    # The window of `width` words with the most hits (the first such), slid in one pass.
    score = best = sum(hits[:width])
    start = 0
    for first in range(1, len(spans) - width + 1):
        score += hits[first + width - 1] - hits[first - 1]
        if score > best:
            best, start = score, first
    shown = range(start, min(len(spans), start + width))
    out = ["…"] if start > 0 else []
    position = spans[start][0]
    for index in shown:
        a, b = spans[index]
        out.append(html.escape(text[position:a]))
        word = html.escape(text[a:b])
        out.append(f"<mark>{word}</mark>" if hits[index] else word)
        position = b
    out.append(html.escape(text[position:]) if shown[-1] == len(spans) - 1 else "…")
    return "".join(out).strip()
