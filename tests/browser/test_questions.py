"""Readers' questions in Chromium: a reader sends one from the page, the newsroom sees it
without reloading, answers it, and every reader sees the entry that quotes it."""

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Newsroom, open_live, open_page
from tests.browser.test_newsroom import sign_in


async def test_ask_see_it_on_the_desk_answer_every_reader_sees_it(
    browser: Browser, page: Page, newsroom: Newsroom
) -> None:
    await newsroom.client.patch(
        "/api/blogs/storm", json={"accepts_questions": True}, headers=newsroom.tokens.auth("admin")
    )
    async with open_page(browser) as desk, open_page(browser) as other:
        await sign_in(desk, newsroom, "editor")
        await expect(desk.locator("#questions-panel")).to_be_visible()
        await expect(desk.locator("#questions .empty")).to_have_text("No questions waiting.")
        await open_live(page, newsroom)
        await open_live(other, newsroom)

        await page.click(".ask summary")
        await page.fill(
            "[data-ask-form] textarea[name=question]", "Are the <b>ferries</b> running?"
        )
        await page.fill("[data-ask-form] input[name=name]", "Ann from Leith")
        await page.click("[data-ask-form] button")
        await expect(page.locator("[data-ask-status]")).to_have_text(
            "Thank you: the newsroom has your question."
        )
        card = desk.locator("[data-question]")
        await expect(card).to_have_count(1)  # pushed: the desk did not reload
        await expect(card.locator("blockquote")).to_have_text("Are the <b>ferries</b> running?")
        await expect(desk.locator("#questions-count")).to_have_text("1 waiting")
        for reader in (page, other):  # readers never see an unanswered question
            await expect(reader.locator("[data-feed]")).not_to_contain_text("ferries")

        await card.locator(".answer-body").fill("Not until the wind drops, says CalMac.")
        await card.locator("button.answer").click()
        await expect(desk.locator("[data-question]")).to_have_count(0)
        for reader in (page, other):
            entry = reader.locator("[data-feed] > article").first
            await expect(entry.locator("blockquote")).to_contain_text(
                "Are the <b>ferries</b> running?"
            )
            await expect(entry.locator("blockquote")).to_contain_text("— Ann from Leith")
            await expect(entry).to_contain_text("Not until the wind drops, says CalMac.")


async def test_a_dismissed_question_leaves_every_desk(browser: Browser, newsroom: Newsroom) -> None:
    await newsroom.client.patch(
        "/api/blogs/storm", json={"accepts_questions": True}, headers=newsroom.tokens.auth("admin")
    )
    async with open_page(browser) as one, open_page(browser) as two:
        await sign_in(one, newsroom, "editor")
        await sign_in(two, newsroom, "reporter")
        sent = await newsroom.client.post(
            "/api/blogs/storm/questions", json={"question": "Spam?", "name": "Bot"}
        )
        assert sent.status_code == 201
        for desk in (one, two):
            await expect(desk.locator("[data-question]")).to_have_count(1)
        await one.locator("[data-question] button.danger").click()
        for desk in (one, two):
            await expect(desk.locator("[data-question]")).to_have_count(0)


async def test_the_form_in_arabic_right_to_left(page: Page, newsroom: Newsroom) -> None:
    await newsroom.client.patch(
        "/api/blogs/storm",
        json={"accepts_questions": True, "language": "ar"},
        headers=newsroom.tokens.auth("admin"),
    )
    await open_live(page, newsroom)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator(".ask summary")).to_have_text("اسأل غرفة الأخبار")
    await page.click(".ask summary")
    await page.fill("[data-ask-form] textarea[name=question]", "متى تعود العبّارات؟")
    await page.fill("[data-ask-form] input[name=name]", "سارة")
    await page.click("[data-ask-form] button")
    await expect(page.locator("[data-ask-status]")).to_have_text(
        "شكرًا: وصل سؤالك إلى غرفة الأخبار."
    )
