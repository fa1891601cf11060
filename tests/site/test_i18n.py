"""Each blog's language: the API's `language` field, and pages, feeds and JSON-LD in it;
the catalogs hold every word the code uses."""

import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import feedparser
import httpx
import orjson
import pytest

from app.cli import catalogs
from app.site.i18n import language, negotiate, preferred, shipped
from tests.conftest import Tokens

ADMIN = "admin"


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.html: dict[str, str | None] = {}
        self.scripts: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.html = dict(attrs)
        if tag == "script":
            self._script = dict(attrs).get("id") or dict(attrs).get("type")

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


async def make_blog(
    client: httpx.AsyncClient, tokens: Tokens, slug: str, **fields: object
) -> httpx.Response:
    body = {"slug": slug, "title": f"Blog {slug}", **fields}
    return await client.post("/api/blogs", json=body, headers=tokens.auth(ADMIN))


async def test_a_blog_has_a_language_set_at_creation_or_by_patch(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    r = await make_blog(client, tokens, "plain")
    assert r.status_code == 201 and r.json()["language"] == "en"  # DEFAULT_LANGUAGE
    r = await make_blog(client, tokens, "moscow", language="ru")
    assert r.json()["language"] == "ru"
    r = await make_blog(client, tokens, "brazil", language="PT-br")
    assert r.json()["language"] == "pt-BR"  # canonical case
    r = await client.patch(
        "/api/blogs/moscow", json={"language": "ar-EG"}, headers=tokens.auth(ADMIN)
    )
    assert r.status_code == 200 and r.json()["language"] == "ar-EG"
    assert (await client.get("/api/blogs/moscow")).json()["language"] == "ar-EG"
    r = await client.patch(
        "/api/blogs/moscow", json={"language": "ru"}, headers=tokens.auth("editor")
    )
    assert r.status_code == 403  # admins only


@pytest.mark.parametrize("tag", ["english", "xx-yy", "en_GB", "", "e", "ru-" + "x" * 70, "12"])
async def test_a_language_that_is_not_bcp_47_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tokens: Tokens, tag: str
) -> None:
    r = await make_blog(client, tokens, "bad", language=tag)
    assert r.status_code == 422, r.text
    assert (await client.get("/api/blogs/bad")).status_code == 404
    await make_blog(client, tokens, "good", language="ru")
    r = await client.patch("/api/blogs/good", json={"language": tag}, headers=tokens.auth(ADMIN))
    assert r.status_code == 422
    assert (await client.get("/api/blogs/good")).json()["language"] == "ru"


async def test_pages_speak_the_blogs_language_and_direction(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    await make_blog(client, tokens, "kyiv", language="ru")
    await make_blog(client, tokens, "cairo", language="ar")
    for slug in ("kyiv", "cairo"):
        r = await client.post(
            f"/api/blogs/{slug}/entries",
            json={"body": "Reuters: **BBC** reports", "key_event": True},
            headers=tokens.auth("editor"),
        )
        assert r.status_code == 201

    ru = (await client.get("/blogs/kyiv")).text
    page = parse(ru)
    assert page.html == {"lang": "ru", "dir": "ltr"}
    assert "Ключевые события" in ru and "Ключевое событие" in ru and "В эфире" in ru
    assert "Key events" not in ru
    catalog = orjson.loads(page.scripts["catalog"])
    assert catalog["words"]["Share"] == "Поделиться"
    assert set(catalog["plurals"]["{n} new update"]) >= {"one", "few", "many", "other"}
    jsonld = orjson.loads(page.scripts["application/ld+json"])
    assert jsonld["inLanguage"] == "ru"

    ar = (await client.get("/blogs/cairo")).text
    page = parse(ar)
    assert page.html == {"lang": "ar", "dir": "rtl"}
    assert "أبرز الأحداث" in ar
    forms = orjson.loads(page.scripts["catalog"])["plurals"]["{n} new update"]
    assert set(forms) == {"zero", "one", "two", "few", "many", "other"}

    en = await make_blog(client, tokens, "london")
    assert en.status_code == 201
    page = parse((await client.get("/blogs/london")).text)
    assert page.html == {"lang": "en", "dir": "ltr"}
    assert "catalog" not in page.scripts  # English is the code's own words


async def test_feed_sitemap_and_missing_pages_carry_the_language(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    await make_blog(client, tokens, "cairo", language="ar-EG")
    r = await client.post(
        "/api/blogs/cairo/entries", json={"body": "أول تحديث"}, headers=tokens.auth("editor")
    )
    feed = await client.get("/blogs/cairo/feed.atom")
    root = ElementTree.fromstring(feed.content)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ar-EG"
    assert feedparser.parse(feed.content).feed.language == "ar-EG"
    sitemap = ElementTree.fromstring((await client.get("/sitemap.xml")).content)
    news = "{http://www.google.com/schemas/sitemap-news/0.9}"
    assert [e.text for e in sitemap.iter(f"{news}language")] == ["ar"]
    missing = await client.get(f"/blogs/cairo/entries/{r.json()['id'] + 1000}")
    assert missing.status_code == 404
    assert parse(missing.text).html == {"lang": "ar-EG", "dir": "rtl"}
    assert "هذا التحديث غير موجود هنا" in missing.text


async def test_dates_on_the_server_are_the_languages_in_the_blogs_zone(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    await make_blog(client, tokens, "tokyo", language="ru", timezone="Asia/Tokyo")
    r = await client.post(
        "/api/blogs/tokyo/entries", json={"body": "Первое"}, headers=tokens.auth("editor")
    )
    published = r.json()["published_at"]
    page = (await client.get("/blogs/tokyo")).text
    found = re.search(rf'<time datetime="{re.escape(published[:19])}[^"]*"[^>]*>([^<]+)<', page)
    assert found, page
    from datetime import datetime
    from zoneinfo import ZoneInfo

    here = datetime.fromisoformat(published).astimezone(ZoneInfo("Asia/Tokyo"))
    assert found.group(1).startswith(f"{here:%H:%M}")  # Russian writes 24-hour time


async def test_the_newsroom_speaks_its_users_language_not_the_blogs(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/newsroom", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert parse(page.text).html == {"lang": "ru", "dir": "ltr"}
    assert "Новая запись" in page.text
    assert "Cookie" in page.headers["vary"]
    page = await client.get(
        "/newsroom", headers={"Accept-Language": "ru", "Cookie": "newsroom_language=ar"}
    )
    assert parse(page.text).html == {"lang": "ar", "dir": "rtl"}
    page = await client.get("/newsroom", headers={"Accept-Language": "de-CH, fr;q=0.8"})
    assert parse(page.text).html["lang"] == "en"
    page = await client.get("/newsroom", headers={"Cookie": "newsroom_language=<script>"})
    assert parse(page.text).html["lang"] == "en"


async def test_the_newsroom_picker_sets_the_language_cookie_as_it_redirects(
    client: httpx.AsyncClient,
) -> None:
    chosen = await client.get("/newsroom?language=ru", headers={"Accept-Language": "en"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/newsroom"
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith("newsroom_language=ru;")
    assert "Path=/newsroom" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = await client.get("/newsroom", headers={"Accept-Language": "en"})
    assert parse(page.text).html["lang"] == "ru"  # the client kept the cookie
    refused = await client.get("/newsroom?language=de")
    assert refused.status_code == 400 and "de" in refused.json()["detail"]
    assert "set-cookie" not in refused.headers
    page = await client.get("/newsroom", headers={"Accept-Language": "en"})
    assert parse(page.text).html["lang"] == "ru"


async def test_api_errors_stay_english(client: httpx.AsyncClient, tokens: Tokens) -> None:
    await make_blog(client, tokens, "kyiv", language="ru")
    r = await client.get("/api/blogs/kyiv/entries/99", headers={"Accept-Language": "ru"})
    assert r.status_code == 404 and "no entry" in r.json()["detail"]


def test_accept_language_is_read_by_quality_and_negotiated_by_language() -> None:
    assert preferred("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == [
        "fr-CH", "fr", "en", "de"
    ]  # fmt: skip
    assert preferred("ru;q=0.5, ar;q=oops, en;q=0") == ["ru"]
    assert preferred("x" * 10_000) == []
    assert negotiate(["ru-RU"], "en") == "ru"
    assert negotiate(["de", "ar-EG"], "en") == "ar"
    assert negotiate(["de"], "en") == "en"


def test_plural_forms_by_cldr_category_as_the_browser_picks_them() -> None:
    def say(tag: str, n: int) -> str:
        lang = language(tag)
        forms = lang.client["plurals"]["{n} new update"]
        return str(forms[lang.locale.plural_form(n)]).replace("{n}", str(n))

    assert [say("ru", n) for n in (1, 2, 5, 21)] == [
        "1 новое обновление", "2 новых обновления", "5 новых обновлений", "21 новое обновление"
    ]  # fmt: skip
    assert [say("ar", n) for n in (0, 1, 2, 5, 11, 100)] == [
        "لا تحديثات جديدة", "تحديث جديد واحد", "تحديثان جديدان", "5 تحديثات جديدة",
        "11 تحديثًا جديدًا", "100 تحديث جديد",
    ]  # fmt: skip


def test_the_words_are_read_from_the_templates_and_the_code() -> None:
    words = {message.id for message in catalogs.extract("messages")}
    assert "Key events" in words  # a template's
    assert "Results box" in words  # the newsroom's template
    client = {message.id for message in catalogs.extract("client")}
    assert {"Results", "Shown to readers."} <= client  # web/'s


@pytest.mark.parametrize("domain", sorted(catalogs.SOURCES))
@pytest.mark.parametrize("tag", shipped())
def test_every_catalog_has_every_word_the_code_uses(tag: str, domain: str) -> None:
    assert list(catalogs.missing(tag, domain)) == []
    assert {"en", "ru", "ar"} <= set(shipped())
