"""Polls in Chromium: two readers vote, both pages show both votes within seconds (one
notice per blog); closing fixes the result on every page; the newsroom adds a poll."""

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Newsroom, open_live, open_page
from tests.browser.test_newsroom import sign_in


async def test_two_readers_vote_and_both_see_the_count(
    browser: Browser, page: Page, newsroom: Newsroom
) -> None:
    await newsroom.post("Who wins the toss?", poll={"options": ["Heads", "Tails"]})
    async with open_page(browser) as other:
        await open_live(page, newsroom)
        await open_live(other, newsroom)
        await page.check("form.poll input[value='0']")
        await page.click("form.poll button[type=submit]")
        await expect(page.locator("[data-poll-status]")).to_have_text("Thank you for voting.")
        await other.check("form.poll input[value='1']")
        await other.click("form.poll button[type=submit]")
        for reader in (page, other):
            await expect(reader.locator("[data-total]")).to_have_text("2 votes")
            await expect(reader.locator("[data-count]")).to_have_text(["1", "1"])
        # A second vote from the same reader is not counted.
        await page.reload()
        await page.check("form.poll input[value='1']")
        await page.click("form.poll button[type=submit]")
        await expect(page.locator("[data-poll-status]")).to_have_text(
            "This poll is closed, or you have voted in it."
        )

        entry = (await newsroom.client.get("/api/blogs/storm/entries")).json()["entries"][0]
        closed = await newsroom.client.post(
            f"/api/blogs/storm/entries/{entry['id']}/poll/close",
            headers=newsroom.tokens.auth("editor"),
        )
        assert closed.status_code == 200
        for reader in (page, other):
            await expect(reader.locator("form.poll .poll-closed")).to_have_text("Poll closed")
            await expect(reader.locator("form.poll input").first).to_be_disabled()
            await expect(reader.locator("[data-count]")).to_have_text(["1", "1"])  # kept


async def test_the_newsroom_adds_a_poll(browser: Browser, page: Page, newsroom: Newsroom) -> None:
    await open_live(page, newsroom)
    async with open_page(browser) as desk:
        await sign_in(desk, newsroom, "editor")
        await desk.fill("#c-body", "Which bridge should reopen first?")
        await desk.click(".poll-tools summary")
        options = desk.locator(".c-option")
        await options.nth(0).fill("Forth")
        await options.nth(1).fill("Tay")
        await desk.click("#c-post")
        await expect(page.locator("form.poll .poll-label")).to_have_text(["Forth", "Tay"])
        card = desk.locator("#entries article").first
        await card.locator("button", has_text="Close the poll").click()
        await expect(page.locator("form.poll .poll-closed")).to_have_text("Poll closed")


async def test_a_poll_in_arabic_right_to_left(page: Page, newsroom: Newsroom) -> None:
    await newsroom.client.patch(
        "/api/blogs/storm", json={"language": "ar"}, headers=newsroom.tokens.auth("admin")
    )
    await newsroom.post("من يفوز؟", poll={"options": ["الأهلي", "الزمالك"]})
    await open_live(page, newsroom)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("[data-total]")).to_have_text("لا أصوات")
    await page.check("form.poll input[value='1']")
    await page.click("form.poll button[type=submit]")
    await expect(page.locator("[data-poll-status]")).to_have_text("شكرًا على تصويتك.")
    await expect(page.locator("[data-total]")).to_have_text("صوت واحد")
