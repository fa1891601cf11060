"""Languages: each blog's (BCP 47, for its pages, feed and live client) and the newsroom
user's. The API's error messages stay English.

Words come from gettext catalogs in app/translations: domain `messages` for the server's
templates, `client` for the JavaScript under web/. They are compiled when the package is
built or installed (hatch_build.py); `make messages` extracts new words into them. Dates,
plural rules and text direction come from Babel's CLDR data. Browsers format times with
`Intl` in the same language and pick plural forms with `Intl.PluralRules`; `client_catalog`
gives them the client words keyed by CLDR plural category, which both sides share.
"""

import gettext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import langcodes
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_skeleton, format_time
from babel.messages.mofile import read_mo
from babel.support import Translations

from app.resources import TRANSLATIONS

SOURCE = "en"  # the language the code's words are written in
DOMAINS = ("messages", "client")


@cache
def shipped() -> tuple[str, ...]:
    """The languages with catalogs: the words of these are all translated."""
    return tuple(sorted(path.name for path in TRANSLATIONS.iterdir() if path.is_dir()))


def check_catalogs() -> None:
    """Refuse to start on catalogs that were never compiled: pages would silently fall
    back to English."""
    for tag in shipped():
        for domain in DOMAINS:
            mo = TRANSLATIONS / tag / "LC_MESSAGES" / f"{domain}.mo"
            if not mo.exists():
                raise RuntimeError(
                    f"{mo} is missing: install the package (make install, or pip install .), "
                    "which compiles the catalogs"
                )


def _locale(tag: str) -> Locale:
    """Babel's nearest locale: the tag itself, its language, else the source language."""
    for candidate in (tag, langcodes.Language.get(tag).language or SOURCE):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(SOURCE)


@dataclass(frozen=True)
class Language:
    tag: str
    locale: Locale
    messages: gettext.NullTranslations
    client: dict[str, Any] = field(hash=False, compare=False)

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.text_direction == "rtl" else "ltr"

    @property
    def code(self) -> str:
        """The bare language (ISO 639), as Google News' sitemap wants it."""
        return self.locale.language

    def gettext(self, message: str) -> str:
        return self.messages.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.messages.ngettext(singular, plural, n)

    def time(self, moment: datetime) -> str:
        """Hours and minutes, as this language writes them (in `moment`'s zone)."""
        return format_time(moment, "short", tzinfo=moment.tzinfo, locale=self.locale)

    def day(self, moment: datetime) -> str:
        return format_skeleton("MMMd", moment, tzinfo=moment.tzinfo, locale=self.locale)

    def moment(self, moment: datetime) -> str:
        return format_datetime(moment, "long", tzinfo=moment.tzinfo, locale=self.locale)


def _translations(locale: Locale, domain: str) -> gettext.NullTranslations:
    return Translations.load(str(TRANSLATIONS), [str(locale)], domain)


def _client_catalog(locale: Locale, translations: gettext.NullTranslations) -> dict[str, Any]:
    """The client domain's words for the browser: plain ones by message id, plural ones by
    their singular id and CLDR category (what `Intl.PluralRules` answers)."""
    found = [TRANSLATIONS / str(locale) / "LC_MESSAGES" / "client.mo"]
    found.append(TRANSLATIONS / locale.language / "LC_MESSAGES" / "client.mo")
    path = next((p for p in found if p.exists()), None)
    if path is None or locale.language == SOURCE:
        return {}  # the code's own words
    with path.open("rb") as file:
        catalog = read_mo(file)
    samples: dict[str, int] = {}
    for n in range(0, 1000):
        samples.setdefault(locale.plural_form(n), n)
    words: dict[str, str] = {}
    plurals: dict[str, dict[str, str]] = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple | list):
            singular, plural = message.id[0], message.id[1]
            forms = {
                category: translations.ngettext(singular, plural, n)
                for category, n in samples.items()
            }
            # Where no whole number takes "other" (Russian), it is the form for many.
            forms.setdefault("other", translations.ngettext(singular, plural, 5))
            plurals[singular] = forms
        else:
            words[message.id] = str(message.string)
    return {"words": words, "plurals": plurals}


@lru_cache(maxsize=256)
def language(tag: str) -> Language:
    locale = _locale(tag)
    client = _translations(locale, "client")
    return Language(
        tag=tag,
        locale=locale,
        messages=_translations(locale, "messages"),
        client=_client_catalog(locale, client),
    )


def preferred(accept_language: str, limit: int = 16) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (a malformed item is
    skipped; at most `limit` are read)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:limit]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0 and len(tag) <= 64:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(wanted: list[str], fallback: str) -> str:
    """The first of `wanted` (BCP 47 tags) that has catalogs, by its language, or
    `fallback`."""
    available = shipped()
    for tag in wanted:
        try:
            bare = langcodes.Language.get(tag).language
        except ValueError:
            continue
        if tag in available:
            return tag
        if bare in available:
            return bare
    return fallback
