"""The gettext catalogs' upkeep: `liveupdates messages` (or `make messages`) extracts every
word the code uses, from the templates and Python (domain `messages`) and from web/ (domain
`client`), and merges them into each language's `.po`, keeping what is translated. The
source language's catalog is filled with the words themselves. `missing` is what the tests
check: a word the code uses that a catalog lacks or has not translated."""

from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.resources import PACKAGE, TEMPLATES, TRANSLATIONS, WEB
from app.site.i18n import SOURCE, shipped

_TEMPLATES = TEMPLATES.relative_to(PACKAGE).as_posix()
# Where each domain's words are, how to read them, and which calls mark them.
SOURCES: dict[str, tuple[Path, list[tuple[str, str]], dict[str, tuple[int, ...] | None]]] = {
    "messages": (
        PACKAGE,
        [
            (f"{_TEMPLATES}/**.html", "jinja2"),
            (f"{_TEMPLATES}/**.atom", "jinja2"),
            ("**.py", "python"),
        ],
        {"_": None, "gettext": None, "ngettext": (1, 2)},
    ),
    "client": (WEB, [("**.js", "javascript")], {"t": None, "tn": (1, 2)}),
}


def extract(domain: str) -> Catalog:
    """Every word of `domain` in the code, with where it is used."""
    directory, method_map, keywords = SOURCES[domain]
    template = Catalog(project="liveupdates", domain=domain)
    found = extract_from_dir(
        directory,
        method_map,
        options_map={f"{_TEMPLATES}/**.html": {"trimmed": "true"}},
        keywords=keywords,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    )
    for filename, line, message, comments, context in found:
        where = (str(Path(directory.name) / filename), line)
        template.add(message, None, [where], auto_comments=comments, context=context)
    return template


def _path(language: str, domain: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / f"{domain}.po"


def _read(language: str, domain: str) -> Catalog:
    path = _path(language, domain)
    if not path.exists():
        return Catalog(locale=language, domain=domain, project="liveupdates")
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=domain)


def update(languages: tuple[str, ...] | None = None) -> list[Path]:
    """Merge the code's words into every catalog; returns the files written."""
    written = []
    for domain in SOURCES:
        for language in languages or shipped():
            catalog = _read(language, domain)
            catalog.update(extract(domain), no_fuzzy_matching=True)  # shares its messages
            catalog.obsolete.clear()
            catalog.fuzzy = False
            if language == SOURCE:
                for message in catalog:
                    if message.id and _untranslated(message.string):
                        message.string = message.id
            path = _path(language, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as file:
                write_po(file, catalog, width=100, sort_by_file=True, omit_header=False)
            written.append(path)
    return written


def _untranslated(string: str | tuple[str, ...] | list[str] | None) -> bool:
    if isinstance(string, tuple | list):
        return not all(string)
    return not string


def missing(language: str, domain: str) -> Iterator[str]:
    """Words the code uses that `language`'s catalog lacks, or has not translated (or only
    fuzzily)."""
    catalog = _read(language, domain)
    for message in extract(domain):
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        if found is None or found.fuzzy or _untranslated(found.string):
            yield str(message.id if isinstance(message.id, str) else message.id[0])
