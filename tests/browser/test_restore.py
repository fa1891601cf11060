"""A reader's page open across a restore: the server it follows goes down, comes back with
a backup taken before what the page shows, and passes the page's offset. The page must show
the restored blog, nothing of what the backup lost and nothing missing, over a WebSocket
and over Server-Sent Events alike (the page's stream counts in an epoch the restore ended)."""

from pathlib import Path

import httpx
from playwright.async_api import Browser, Locator, Page, expect

from app.config import Settings
from tests.browser.conftest import open_page
from tests.conftest import Tokens, restored
from tests.servers import AppServer, run_cli

# A page whose browser has no working WebSocket: every attempt fails at once, so the page
# falls back to Server-Sent Events, as behind a proxy that refuses upgrades.
NO_WEBSOCKETS = """
window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 0); }
  close() {}
};
"""


def _feed(page: Page) -> Locator:
    return page.locator("[data-feed]")


async def _post(client: httpx.AsyncClient, tokens: Tokens, body: str) -> None:
    r = await client.post(
        "/api/blogs/night/entries", json={"body": body}, headers=tokens.auth("editor")
    )
    assert r.status_code == 201, r.text


async def test_an_open_page_shows_the_restored_blog(
    browser: Browser, settings: Settings, tokens: Tokens, tmp_path: Path, clean_db: None
) -> None:
    postgres = not settings.is_sqlite
    (tmp_path / "live").mkdir()
    original = AppServer(settings, tmp_path / "live")
    await original.start()
    backup_file = tmp_path / ("night.dump" if postgres else "night.db")
    async with (
        open_page(browser) as socket_page,
        open_page(browser) as events_page,
    ):
        await events_page.add_init_script(NO_WEBSOCKETS)
        try:
            async with httpx.AsyncClient(base_url=original.url, timeout=30) as client:
                r = await client.post("/api/blogs", json={"slug": "night", "title": "Night"},
                                      headers=tokens.auth("admin"))  # fmt: skip
                assert r.status_code == 201
                for n in range(3):
                    await _post(client, tokens, f"Kept {n}")
                took = run_cli(settings.database_url, "backup", str(backup_file))
                assert took.returncode == 0, took.stderr
                for n in range(3):
                    await _post(client, tokens, f"Lost {n}")
                for page in (socket_page, events_page):
                    await page.goto(f"{original.url}/blogs/night")
                    # Without WebSockets, Server-Sent Events come after three failed tries
                    # with backoff and jitter (web/follow.js): up to ~5 s.
                    body = page.locator("body")
                    await expect(body).to_have_attribute("data-connection", "live", timeout=15000)
                await _post(client, tokens, "Lost 3")  # live, to both pages
                for page in (socket_page, events_page):
                    await expect(_feed(page).get_by_text("Lost 3", exact=True)).to_be_visible()
                final = (await client.get("/api/blogs/night")).json()["offset"]
        finally:
            original.stop()

        (tmp_path / "restored").mkdir()
        async with restored(settings, backup_file, tmp_path / "restored") as fresh:
            server = AppServer(fresh, tmp_path / "restored")
            # First where the pages cannot see it: the restored blog goes past their offset
            # before they reconnect, so that only the epoch tells the two streams apart.
            await server.start()
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    held = (await client.get("/api/blogs/night")).json()["offset"]
                    assert held == 3
                    for n in range(final - held + 2):
                        await _post(client, tokens, f"Restored {n}")
                    blog = (await client.get("/api/blogs/night")).json()
                assert blog["offset"] > final
            finally:
                server.stop()
            server.port = original.port  # then where the pages reconnect
            await server.start()
            try:
                for page in (socket_page, events_page):
                    body = page.locator("body")
                    await expect(body).to_have_attribute("data-epoch", blog["epoch"], timeout=30000)
                    await expect(body).to_have_attribute("data-connection", "live", timeout=15000)
                    feed = _feed(page)
                    await expect(feed.locator("article")).to_have_count(3 + final - held + 2)
                    for n in range(3):
                        await expect(feed.get_by_text(f"Kept {n}", exact=True)).to_be_visible()
                    for n in range(final - held + 2):
                        await expect(feed.get_by_text(f"Restored {n}", exact=True)).to_be_visible()
                    await expect(feed.get_by_text("Lost")).to_have_count(0)
                # And they are live in the restored stream.
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    await _post(client, tokens, "After all")
                for page in (socket_page, events_page):
                    await expect(_feed(page).get_by_text("After all", exact=True)).to_be_visible()
            finally:
                server.stop()
