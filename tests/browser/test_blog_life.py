"""A blog's life in Chromium: announced for later, the page says when it starts (in the
reader's own time zone) and "Starting soon", and the first entry takes it live on the open
page; archived, its page opens no live connection."""

from datetime import timedelta

from playwright.async_api import Browser, expect

from app.services import services
from app.store.archiving import archive_ended
from tests.browser.conftest import Newsroom, open_live, open_page
from tests.browser.test_newsroom import sign_in


async def test_settings_being_typed_survive_a_colleagues_change_and_keep_it(
    browser: Browser, newsroom: Newsroom
) -> None:
    async with open_page(browser) as desk:
        await sign_in(desk, newsroom, "admin")
        await expect(desk.locator("#b-title")).to_have_value("Storm Aurelia")
        await desk.fill("#b-notice", "Roads closed north of the river.")
        # A colleague renames the blog meanwhile: the form shows it, and keeps the notice.
        renamed = await newsroom.client.patch("/api/blogs/storm", json={"title": "Storm Ciarán"},
                                              headers=newsroom.tokens.auth("admin"))  # fmt: skip
        assert renamed.status_code == 200
        await expect(desk.locator("#b-title")).to_have_value("Storm Ciarán")
        await expect(desk.locator("#blog-select option:checked")).to_have_text("Storm Ciarán")
        await expect(desk.locator("#b-notice")).to_have_value("Roads closed north of the river.")
        await desk.click("#blog-form button[type=submit]")
        await expect(desk.locator("#b-result")).to_have_text("Saved.")
        blog = (await newsroom.client.get("/api/blogs/storm")).json()
        assert blog["title"] == "Storm Ciarán"
        assert blog["notice"] == "Roads closed north of the river."
        # Typed again after saving: the next change coming in live leaves it as typed.
        await desk.fill("#b-notice", "Roads open again.")
        described = await newsroom.client.patch("/api/blogs/storm", json={"description": "Live"},
                                                headers=newsroom.tokens.auth("admin"))  # fmt: skip
        assert described.status_code == 200
        await expect(desk.locator("#b-description")).to_have_value("Live")
        await expect(desk.locator("#b-notice")).to_have_value("Roads open again.")


async def test_a_reader_who_came_early_sees_it_start(browser: Browser, newsroom: Newsroom) -> None:
    made = await newsroom.client.post(
        "/api/blogs",
        json={"slug": "launch", "title": "Launch day", "starts_at": "2030-06-01T18:00:00Z"},
        headers=newsroom.tokens.auth("admin"),
    )
    assert made.status_code == 201
    async with open_page(browser, timezone_id="Asia/Tokyo", locale="en-GB") as page:
        await open_live(page, newsroom, "launch")
        await expect(page.locator("[data-status-text]")).to_have_text("Starting soon")
        starts = page.locator("[data-starts]")
        await expect(starts).to_be_visible()
        await expect(starts).to_contain_text("03:00")  # 18:00 UTC is 03:00 in Tokyo
        await newsroom.post("Liftoff.", slug="launch")
        await expect(page.locator("[data-feed] article")).to_have_count(1)
        await expect(page.locator("[data-feed] article")).to_contain_text("Liftoff.")
        await expect(starts).to_be_hidden()
        await expect(page.locator("[data-status-text]")).to_have_text("Live")
        await expect(page.locator("body")).to_have_attribute("data-status", "live")


async def test_starting_soon_in_arabic(browser: Browser, newsroom: Newsroom) -> None:
    made = await newsroom.client.post(
        "/api/blogs",
        json={"slug": "qariban", "title": "انتخابات", "language": "ar",
              "starts_at": "2030-06-01T18:00:00Z"},
        headers=newsroom.tokens.auth("admin"),
    )  # fmt: skip
    assert made.status_code == 201
    async with open_page(browser) as page:
        await open_live(page, newsroom, "qariban")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("[data-status-text]")).to_have_text("تبدأ قريبًا")
        await expect(page.locator("[data-starts]")).to_contain_text("تبدأ هذه التغطية المباشرة")


async def test_the_newsroom_announces_a_blog_and_saving_keeps_it_upcoming(
    browser: Browser, newsroom: Newsroom
) -> None:
    async with open_page(browser, timezone_id="Europe/Paris") as desk:
        await sign_in(desk, newsroom, "admin")
        await desk.fill("#nb-slug", "summit")
        await desk.fill("#nb-title", "The summit")
        await desk.fill("#nb-starts", "2030-06-01T20:00")
        await desk.click("#new-blog-form button[type=submit]")
        await expect(desk.locator("#nb-result")).to_have_text("Created.")
        blog = (await newsroom.client.get("/api/blogs/summit")).json()
        assert (blog["status"], blog["starts_at"]) == ("upcoming", "2030-06-01T18:00:00Z")
        await expect(desk.locator("#b-status")).to_have_value("upcoming")
        await expect(desk.locator("#b-starts")).to_have_value("2030-06-01T20:00")
        await desk.fill("#b-notice", "Doors open at eight.")
        await desk.click("#blog-form button[type=submit]")
        await expect(desk.locator("#b-result")).to_have_text("Saved.")
        blog = (await newsroom.client.get("/api/blogs/summit")).json()
        assert (blog["status"], blog["notice"]) == ("upcoming", "Doors open at eight.")
        await desk.fill("#b-starts", "2030-06-01T21:30")
        await desk.locator("#b-result").evaluate("node => (node.textContent = '')")
        await desk.click("#blog-form button[type=submit]")
        await expect(desk.locator("#b-result")).to_have_text("Saved.")
        blog = (await newsroom.client.get("/api/blogs/summit")).json()
        assert blog["starts_at"] == "2030-06-01T19:30:00Z"


async def test_an_archived_blog_is_read_without_a_connection(
    browser: Browser, newsroom: Newsroom
) -> None:
    await newsroom.post("The storm has passed.")
    await newsroom.client.patch(
        "/api/blogs/storm", json={"status": "ended"}, headers=newsroom.tokens.auth("admin")
    )
    db = services(newsroom.server.app).db
    assert await archive_ended(db, services(newsroom.server.app).hub, timedelta(0)) == 1
    async with open_page(browser) as page:
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        await page.goto(f"{newsroom.server.url}/blogs/storm")
        await expect(page.locator("[data-feed] article")).to_contain_text("The storm has passed.")
        await expect(page.locator("[data-status-text]")).to_have_text("Ended")
        await page.wait_for_timeout(500)
        assert sockets == []
