"""The results box in Chromium: set in the newsroom or through the API, every open page
draws it at once, exactly as the server renders it (app/site/templates/_box.html and
web/box.js draw the same markup), in the blog's language and direction."""

from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.api.test_box import SCORE, SEATS
from tests.browser.conftest import Newsroom, open_live, open_page
from tests.browser.test_newsroom import sign_in

# The box as drawn live and as the server renders the page now: trees of
# [tag, attributes, children], text collapsed.
BOTH = """
async () => {
  function tree(node) {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.replace(/\\s+/g, " ").trim();
      return text ? text : null;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const attributes = [...node.attributes].map((a) => [a.name, a.value]).sort();
    const children = [...node.childNodes].map(tree).filter((c) => c !== null);
    return [node.tagName.toLowerCase(), attributes, children];
  }
  const html = await (await fetch(location.href, { cache: "no-store" })).text();
  const served = new DOMParser().parseFromString(html, "text/html");
  return [tree(document.querySelector("[data-box]")), tree(served.querySelector("[data-box]"))];
}
"""


async def drawn_as_served(page: Page) -> Any:
    live, served = await page.evaluate(BOTH)
    assert live == served
    return live


async def test_every_open_page_draws_the_box_as_the_server_does(
    browser: Browser, page: Page, newsroom: Newsroom
) -> None:
    await open_live(page, newsroom)
    await expect(page.locator("[data-box]")).to_be_hidden()
    async with open_page(browser) as other:
        await open_live(other, newsroom)
        put = await newsroom.client.put(
            "/api/blogs/storm/box", json=SCORE, headers=newsroom.tokens.auth("reporter")
        )
        assert put.status_code == 200
        for reader in (page, other):
            await expect(reader.locator("[data-box] .score")).to_have_text("Arsenal2–1Chelsea")
            await expect(reader.locator("[data-box] .box-note")).to_have_text("Half time")
        await drawn_as_served(page)

        await newsroom.client.put(
            "/api/blogs/storm/box", json=SEATS, headers=newsroom.tokens.auth("editor")
        )
        await expect(other.locator("[data-box] th")).to_have_text(["Labour", "Conservative"])
        await drawn_as_served(other)

        await newsroom.client.delete("/api/blogs/storm/box", headers=newsroom.tokens.auth("editor"))
        await expect(page.locator("[data-box]")).to_be_hidden()
        await drawn_as_served(page)


async def test_the_newsroom_keeps_the_box(browser: Browser, page: Page, newsroom: Newsroom) -> None:
    await open_live(page, newsroom)
    async with open_page(browser) as desk:
        await sign_in(desk, newsroom, "reporter")
        await expect(desk.locator("#box-panel")).to_be_visible()
        await desk.select_option("#x-kind", "score")
        await desk.fill("#x-title", "Final")
        labels, values = desk.locator("#x-rows .box-label"), desk.locator("#x-rows .box-value")
        await expect(labels).to_have_count(2)
        await labels.nth(0).fill("Home")
        await values.nth(0).fill("3")
        await labels.nth(1).fill("Away")
        await values.nth(1).fill("0")
        await desk.click("#box-form button[type=submit]")
        await expect(desk.locator("#x-result")).to_have_text("Shown to readers.")
        await expect(page.locator("[data-box] .score")).to_have_text("Home3–0Away")
        await expect(page.locator("[data-box] .box-title")).to_have_text("Final")

        # Rows: as many as wanted; another desk's change shows in this one's form.
        await desk.select_option("#x-kind", "rows")
        await desk.click("#x-add-row")
        await expect(labels).to_have_count(3)
        await labels.nth(2).fill("Turnout")
        await values.nth(2).fill("61%")
        await desk.click("#box-form button[type=submit]")
        await expect(page.locator("[data-box] td")).to_have_text(["3", "0", "61%"])
        await newsroom.client.put(
            "/api/blogs/storm/box", json=SEATS, headers=newsroom.tokens.auth("editor")
        )
        await expect(labels).to_have_count(2)
        await expect(labels.nth(0)).to_have_value("Labour")

        await desk.click("#x-remove")
        await expect(page.locator("[data-box]")).to_be_hidden()
    async with open_page(browser) as contributor:
        await sign_in(contributor, newsroom, "contributor")
        await expect(contributor.locator("#box-panel")).to_be_hidden()


async def test_the_box_in_arabic_right_to_left(page: Page, newsroom: Newsroom) -> None:
    await newsroom.client.patch(
        "/api/blogs/storm", json={"language": "ar"}, headers=newsroom.tokens.auth("admin")
    )
    await open_live(page, newsroom)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("[data-box]")).to_have_attribute("aria-label", "النتائج")
    score = {**SCORE, "title": "", "rows": [{"label": "الأهلي", "value": "2"},
                                            {"label": "الزمالك", "value": "1"}]}  # fmt: skip
    await newsroom.client.put(
        "/api/blogs/storm/box", json=score, headers=newsroom.tokens.auth("editor")
    )
    await expect(page.locator("[data-box] .side").first).to_have_text("الأهلي")
    assert (await drawn_as_served(page))[1] == [
        ["aria-label", "النتائج"],
        ["class", "results-box"],
        ["data-box", ""],
    ]
