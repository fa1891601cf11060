"""Blogs in Russian and Arabic, and the newsroom in its user's language, in real Chromium:
words, plural forms, dates, right-to-left layout; corrections reaching an open page."""

import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Newsroom, open_live, open_page

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

DOCS = Path(__file__).resolve().parents[2] / "docs"
UPDATE = bool(os.environ.get("UPDATE_SCREENSHOT"))


async def language_blog(newsroom: Newsroom, slug: str, title: str, language: str) -> None:
    r = await newsroom.client.post(
        "/api/blogs",
        json={"slug": slug, "title": title, "description": "", "language": language},
        headers=newsroom.tokens.auth("admin"),
    )
    assert r.status_code == 201, r.text


@pytest.fixture
async def tokyo_page(browser: Browser, _server_first: None) -> AsyncIterator[Page]:
    """A reader in Tokyo whose browser prefers English: the blog's language wins."""
    async with open_page(browser, locale="en-US", timezone_id="Asia/Tokyo") as page:
        yield page


async def test_a_russian_blog_speaks_russian_with_its_plural_forms_and_dates(
    tokyo_page: Page, newsroom: Newsroom
) -> None:
    page = tokyo_page
    await language_blog(newsroom, "vybory", "Выборы: итоги ночи", "ru")
    for n in range(12):
        await newsroom.post(f"Участок {n}: явка выше, чем в 2021 году.\n\n" * 3, slug="vybory")
    await open_live(page, newsroom, "vybory")
    await expect(page.locator("#key-events-title")).to_have_text("Ключевые события")
    await expect(page.locator("[data-status-text]")).to_have_text("В эфире")
    await expect(page.locator("[data-feed] article .share").first).to_have_text("Поделиться")
    first_time = page.locator("[data-feed] article .permalink time").first
    await expect(first_time).to_have_text("сейчас")  # Intl.RelativeTimeFormat("ru")
    title = await first_time.get_attribute("title")
    assert title and any("а" <= ch <= "я" for ch in title.lower()), title  # a Russian date

    # Below the top, new entries wait behind the button, counted in Russian.
    await page.mouse.wheel(0, 2500)
    # (Not wait_for_function: its polling evaluates a string, which the page's CSP forbids.)
    await expect(page.locator("[data-feed] article").first).not_to_be_in_viewport()
    button = page.locator("[data-new-updates]")
    expected = {
        1: "1 новое обновление",
        2: "2 новых обновления",
        5: "5 новых обновлений",
        21: "21 новое обновление",
    }
    posted = 0
    for n, words in expected.items():
        while posted < n:
            await newsroom.post(f"Новость {posted}", slug="vybory")
            posted += 1
        await expect(button).to_have_text(words)

    # The reader's own zone, in the blog's language: an edit's time is Tokyo's.
    entry = await newsroom.post("Явка 54%", slug="vybory", headline="Явка", key_event=True)
    r = await newsroom.client.patch(
        f"/api/blogs/vybory/entries/{entry['id']}",
        json={"body": "Явка 45%", "correction": "Ранее была указана явка 54%."},
        headers=newsroom.tokens.auth("editor"),
    )
    updated = datetime.fromisoformat(r.json()["updated_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    await button.click()
    article = page.locator(f"#entry-{entry['id']}")
    await expect(article.locator(".updated")).to_have_text(f"Обновлено {updated:%H:%M}")
    await expect(article.locator(".correction")).to_contain_text(
        "Исправление: Ранее была указана явка 54%."
    )
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(DOCS / "russian.png") if UPDATE else None)


async def test_an_arabic_blog_reads_right_to_left(page: Page, newsroom: Newsroom) -> None:
    await language_blog(newsroom, "gaza", "تغطية مباشرة: قمة القاهرة", "ar")
    await newsroom.client.patch(
        "/api/blogs/gaza",
        json={"notice": "تُحدَّث هذه الصفحة تلقائيًا."},
        headers=newsroom.tokens.auth("admin"),
    )
    await newsroom.post(
        "وصل وزير الخارجية **Antony Blinken** إلى القاهرة صباح اليوم.\n\n"
        "> «نريد وقفًا لإطلاق النار» — مصدر دبلوماسي",
        slug="gaza", headline="وصول الوفود", key_event=True,
    )  # fmt: skip
    await newsroom.post(
        "- الجلسة الأولى: العاشرة صباحًا\n- مؤتمر صحفي: الواحدة ظهرًا\n- البيان الختامي: مساءً",
        slug="gaza", headline="جدول اليوم", pinned=True,
    )  # fmt: skip
    await newsroom.post("قالت وكالة Reuters إن المحادثات ستستمر حتى الغد.", slug="gaza")
    await open_live(page, newsroom, "gaza")
    direction = await page.evaluate("getComputedStyle(document.body).direction")
    assert direction == "rtl"
    await expect(page.locator("#key-events-title")).to_have_text("أبرز الأحداث")
    # The key-events column is on the right, the entries to its left; badges and quotes
    # mirror (the quote's rule is on its right).
    await page.set_viewport_size({"width": 1280, "height": 900})
    key = await page.locator(".key-events").bounding_box()
    feed = await page.locator("main").bounding_box()
    assert key and feed and key["x"] > feed["x"] + feed["width"] - 1
    quote = page.locator("[data-feed] blockquote").first
    border = await quote.evaluate(
        "q => [getComputedStyle(q).borderRightWidth, getComputedStyle(q).borderLeftWidth]"
    )
    assert border == ["3px", "0px"]
    # Latin names keep their order inside Arabic text; author names are isolated.
    await expect(page.locator("[data-feed] bdi.author").first).to_have_text("Ed Editor")
    # Live: the announcement of a new entry and its badge come in Arabic.
    await newsroom.post("خبر عاجل", slug="gaza", key_event=True)
    await expect(page.locator("[data-feed] article").first.locator(".badge.key")).to_have_text(
        "حدث رئيسي"
    )
    await page.screenshot(path=str(DOCS / "arabic.png") if UPDATE else None)


async def test_the_newsroom_switches_language_and_remembers_it(
    page: Page, newsroom: Newsroom
) -> None:
    await language_blog(newsroom, "cairo", "القاهرة", "ar")  # the blog's language is not the UI's
    await page.goto(f"{newsroom.server.url}/newsroom")
    await expect(page.locator(".nr-top h1")).to_have_text("Newsroom")
    await page.select_option("#ui-language", "ru")
    await expect(page.locator(".nr-top h1")).to_have_text("Редакция")
    await page.fill("#token-input", newsroom.tokens.editor)
    await page.click("#sign-in-form button")
    await expect(page.locator("#who")).to_contain_text("редактор")
    await expect(page.locator("#connection")).to_have_text("в эфире")
    await newsroom.post("Первое сообщение", slug="storm")
    await page.select_option("#blog-select", "storm")
    await expect(page.locator("#entries .actions button").first).to_have_text("Изменить")
    await page.reload()
    await expect(page.locator(".nr-top h1")).to_have_text("Редакция")
    assert await page.evaluate("document.documentElement.lang") == "ru"
    await page.select_option("#ui-language", "ar")
    await expect(page.locator(".nr-top h1")).to_have_text("غرفة الأخبار")
    await expect(page).to_have_url(f"{newsroom.server.url}/newsroom")  # the choice is a cookie
    assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"


async def test_a_correction_reaches_an_open_page_and_its_history_opens_in_place(
    page: Page, newsroom: Newsroom
) -> None:
    entry = await newsroom.post("The bridge will close at 6pm.", headline="Bridge closure")
    await open_live(page, newsroom)
    await newsroom.patch(
        entry["id"], body="The bridge will close at 8pm.",
        correction="An earlier version said 6pm.",
    )  # fmt: skip
    article = page.locator(f"#entry-{entry['id']}")
    await expect(article.locator(".correction")).to_contain_text(
        "Correction: An earlier version said 6pm."
    )
    await expect(article.locator(".body")).to_contain_text("8pm")
    await article.locator("[data-history]").click()
    history = article.locator("section.history")
    await expect(history).to_be_visible()
    await expect(history.locator("del").first).to_have_text("6pm")
    await expect(history.locator("ins").first).to_have_text("8pm")
    await expect(history.locator(".version")).to_have_count(2)
    await expect(history).to_contain_text("The bridge will close at 6pm.")
    assert page.url.endswith("/blogs/storm")  # in place, no navigation
    await article.locator("[data-history]").click()
    await expect(history).to_have_count(0)
    # A pin is no edit: no new version, no new "Updated".
    await newsroom.patch(entry["id"], pinned=True)
    await expect(page.locator(f"#pinned-{entry['id']}")).to_be_visible()
    versions = await newsroom.client.get(f"/api/blogs/storm/entries/{entry['id']}/versions")
    assert len(versions.json()["versions"]) == 2
