"""What the browser tests share: Debian's Chromium, a page that fails on script errors, and
a server with a blog to post to through the API."""

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import LiveServer, StartServer, Tokens

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        await browser.close()


class Newsroom:
    def __init__(self, server: LiveServer, tokens: Tokens) -> None:
        self.server = server
        self.client = httpx.AsyncClient(base_url=server.url, timeout=30)
        self.tokens = tokens

    async def blog(self, slug: str = "storm", title: str = "Storm Aurelia") -> None:
        r = await self.client.post(
            "/api/blogs",
            json={"slug": slug, "title": title, "description": "Hour by hour"},
            headers=self.tokens.auth("admin"),
        )
        assert r.status_code == 201, r.text

    async def post(self, body: str, slug: str = "storm", **extra: object) -> dict[str, object]:
        r = await self.client.post(
            f"/api/blogs/{slug}/entries", json={"body": body, **extra},
            headers=self.tokens.auth("editor"),
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def patch(self, entry_id: object, slug: str = "storm", **changes: object) -> None:
        r = await self.client.patch(
            f"/api/blogs/{slug}/entries/{entry_id}",
            json=changes,
            headers=self.tokens.auth("editor"),
        )
        assert r.status_code == 200, r.text


@pytest.fixture
async def newsroom(start_server: StartServer, tokens: Tokens) -> AsyncIterator[Newsroom]:
    server = await start_server()
    newsroom = Newsroom(server, tokens)
    await newsroom.blog()
    yield newsroom
    await newsroom.client.aclose()


@contextlib.asynccontextmanager
async def open_page(browser: Browser, **context: Any) -> AsyncIterator[Page]:
    """A page in a context of its own (`context`: Playwright's options); a script error
    on it fails the test."""
    opened = await browser.new_context(viewport={"width": 1200, "height": 800}, **context)
    page = await opened.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await opened.close()
    assert not errors, errors


@pytest.fixture
def _server_first(request: pytest.FixtureRequest) -> None:
    """The test's server starts before its page opens, so that the page closes before the
    server stops (fixtures end in the reverse order): else a request the page makes in
    that moment fails, and the test with it."""
    if "newsroom" in request.fixturenames:
        request.getfixturevalue("newsroom")


@pytest.fixture
async def page(browser: Browser, _server_first: None) -> AsyncIterator[Page]:
    async with open_page(browser) as page:
        yield page


async def open_live(page: Page, newsroom: Newsroom, slug: str = "storm") -> None:
    await page.goto(f"{newsroom.server.url}/blogs/{slug}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
