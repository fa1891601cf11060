"""The reader's page in real Chromium: live updates, scrolling, reconnects, no script runs."""

import asyncio
import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from app.live.edge.websocket import WebSocketProtocol
from app.services import services
from tests.browser.conftest import Newsroom, open_live
from tests.conftest import StartServer
from tests.domain.test_render import XSS_VECTORS

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


async def test_new_edited_and_deleted_entries_show_without_reload(
    page: Page, newsroom: Newsroom
) -> None:
    first = await newsroom.post("First update")
    await open_live(page, newsroom)
    marker = await page.evaluate("window.notReloaded = true")
    assert marker is True

    # Chromium offered permessage-deflate, and gets the compressed frame every such reader
    # of the blog shares.
    sockets = newsroom.server.server.server_state.connections
    readers = [c for c in sockets if isinstance(c, WebSocketProtocol)]
    assert [r.deflate_bits for r in readers] == [15]

    entry = await newsroom.post("Polls have **closed**", headline="Polls close")
    article = page.locator(f"#entry-{entry['id']}")
    await expect(article).to_be_visible(timeout=1000)
    await expect(page.locator("[data-feed] article").first).to_have_id(f"entry-{entry['id']}")
    await expect(article.locator("strong")).to_have_text("closed")
    published = await article.locator("time").first.get_attribute("datetime")

    await newsroom.patch(entry["id"], body="Polls closed an hour ago")
    await expect(article.locator(".updated")).to_contain_text("Updated")
    await expect(article.locator(".body")).to_have_text("Polls closed an hour ago")
    await expect(page.locator("[data-feed] article").first).to_have_id(f"entry-{entry['id']}")
    assert await article.locator("time").first.get_attribute("datetime") == published

    await newsroom.patch(first["id"], key_event=True)
    panel = page.locator(f'[data-key-events] li[data-id="{first["id"]}"]')
    await expect(panel).to_contain_text("First update")
    order = await page.locator("[data-feed] article").evaluate_all("a => a.map(x => x.id)")
    assert order == [f"entry-{entry['id']}", f"entry-{first['id']}"]  # edits never reorder
    await panel.locator("a").click()
    assert page.url.endswith(f"#entry-{first['id']}")

    r = await newsroom.client.delete(
        f"/api/blogs/storm/entries/{first['id']}", headers=newsroom.tokens.auth("editor")
    )
    assert r.status_code == 204
    await expect(page.locator(f"#entry-{first['id']}")).to_have_count(0)
    await expect(panel).to_have_count(0)
    assert await page.evaluate("window.notReloaded") is True


async def test_scrolled_reader_is_not_moved(page: Page, newsroom: Newsroom) -> None:
    for n in range(12):
        await newsroom.post(f"Earlier update {n}\n\n" + "Detail. " * 60)
    await open_live(page, newsroom)
    await page.mouse.wheel(0, 1500)
    await page.wait_for_timeout(300)
    reading = page.locator("[data-feed] article").nth(5)
    before = await reading.bounding_box()
    assert before is not None

    for n in range(3):
        await newsroom.post(f"Breaking {n}")
    button = page.locator("[data-new-updates]")
    await expect(button).to_have_text("3 new updates")
    await expect(page).to_have_title("(3) Live updates | Storm Aurelia")
    after = await reading.bounding_box()
    assert after is not None and abs(after["y"] - before["y"]) < 1  # the text did not move

    await button.click()
    await expect(page.locator("[data-feed] article").first).to_contain_text("Breaking 2")
    await expect(button).to_be_hidden()
    await expect(page).to_have_title("Live updates | Storm Aurelia")


async def test_reconnect_gets_every_missed_entry_once_in_order(
    page: Page, newsroom: Newsroom, start_server: StartServer
) -> None:
    await newsroom.post("Before the outage")
    await open_live(page, newsroom)
    port = newsroom.server.port
    await newsroom.server.stop()
    await expect(page.locator("body")).to_have_attribute("data-connection", "reconnecting")

    # Posts made elsewhere while this reader's server is down.
    other = await start_server()
    async with httpx.AsyncClient(base_url=other.url) as client:
        missed = []
        for n in range(5):
            r = await client.post(
                "/api/blogs/storm/entries", json={"body": f"Missed {n}"},
                headers=newsroom.tokens.auth("editor"),
            )  # fmt: skip
            missed.append(r.json()["id"])
    await start_server(port=port)

    feed = page.locator("[data-feed] article")
    await expect(feed).to_have_count(6, timeout=20_000)
    ids = await feed.evaluate_all("a => a.map(x => Number(x.dataset.id))")
    assert ids[:5] == list(reversed(missed))
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def test_falls_back_to_server_sent_events(page: Page, newsroom: Newsroom) -> None:
    # A proxy that refuses WebSockets: every attempt closes at once.
    await page.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close())
    await newsroom.post("Before")
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    entry = await newsroom.post("Through SSE")
    await expect(page.locator(f"#entry-{entry['id']}")).to_be_visible(timeout=20_000)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def test_embed_grows_with_the_blog(page: Page, newsroom: Newsroom) -> None:
    for n in range(8):
        await newsroom.post(f"Update {n}\n\n" + "Detail. " * 40)
    script = f"{newsroom.server.url}/embed.js"
    html = f'<h1>A news site</h1><script src="{script}" data-blog="storm"></script>'

    async def news_site(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = html.encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    # Another site, on an origin of its own.
    site = await asyncio.start_server(news_site, "127.0.0.1", 0)
    port = site.sockets[0].getsockname()[1]
    await page.goto(f"http://127.0.0.1:{port}/")
    frame = page.locator("iframe")
    await expect(frame).to_have_count(1)
    await expect(frame).to_have_attribute("src", f"{newsroom.server.url}/blogs/storm")
    inner = page.frame_locator("iframe").locator("[data-feed] article")
    await expect(inner).to_have_count(8)
    for _ in range(50):
        box = await frame.bounding_box()
        if box and box["height"] > 1000:
            break
        await page.wait_for_timeout(100)
    assert box is not None and box["height"] > 1000
    site.close()


async def test_page_works_without_javascript(browser: Browser, newsroom: Newsroom) -> None:
    ids = [(await newsroom.post(f"Update {n}"))["id"] for n in range(25)]
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    articles = page.locator("[data-feed] article")
    await expect(articles).to_have_count(20)
    await expect(articles.first).to_contain_text("Update 24")
    await page.get_by_role("link", name="Load older updates").click()
    await expect(articles).to_have_count(5)
    shown = await articles.evaluate_all("a => a.map(x => Number(x.dataset.id))")
    assert shown == list(reversed(ids[:5]))
    await context.close()


async def test_older_updates_load_in_place_with_javascript(page: Page, newsroom: Newsroom) -> None:
    for n in range(25):
        await newsroom.post(f"Update {n}")
    await open_live(page, newsroom)
    await page.get_by_role("link", name="Load older updates").click()
    await expect(page.locator("[data-feed] article")).to_have_count(25)
    await expect(page.get_by_role("link", name="Load older updates")).to_have_count(0)


async def test_no_script_from_an_entry_runs(page: Page, newsroom: Newsroom) -> None:
    ran: list[str] = []
    page.on(
        "dialog",
        lambda dialog: (ran.append(dialog.message), asyncio.ensure_future(dialog.dismiss())),
    )
    await page.add_init_script("window.__xss = false")
    await newsroom.post(XSS_VECTORS[0], headline="<img src=x onerror=alert(1)>")
    await open_live(page, newsroom)
    for vector in XSS_VECTORS[1:]:  # live, through the client's own rendering
        await newsroom.post(vector + "\n\n<script>window.__xss = true</script>")
    await expect(page.locator("[data-feed] article")).to_have_count(len(XSS_VECTORS))
    await page.wait_for_timeout(500)
    await page.reload()  # and server-rendered
    await page.wait_for_timeout(500)
    assert ran == []
    assert await page.evaluate("window.__xss") is False


async def test_no_script_from_blog_fields_runs(page: Page, newsroom: Newsroom) -> None:
    ran: list[str] = []
    page.on("dialog", lambda d: (ran.append(d.message), asyncio.ensure_future(d.dismiss())))
    evil = "</script><script>window.__xss=true</script><img src=x onerror=alert(1)>"
    r = await newsroom.client.post(
        "/api/blogs",
        json={"slug": "evil", "title": f"T {evil}", "description": f"D {evil}"},
        headers=newsroom.tokens.auth("admin"),
    )
    assert r.status_code == 201
    await newsroom.client.patch(
        "/api/blogs/evil", json={"notice": f"N {evil}"}, headers=newsroom.tokens.auth("admin")
    )
    await page.add_init_script("window.__xss = false")
    await open_live(page, newsroom, "evil")
    await expect(page.locator("[data-notice]")).to_contain_text("N </script>")
    # And live: a blog.updated event carrying the same.
    await newsroom.client.patch(
        "/api/blogs/evil", json={"notice": f"Live {evil}", "title": f"Live {evil}"},
        headers=newsroom.tokens.auth("admin"),
    )  # fmt: skip
    await expect(page.locator("[data-notice]")).to_contain_text("Live </script>")
    await page.wait_for_timeout(300)
    assert ran == []
    assert await page.evaluate("window.__xss") is False


async def test_ended_blog_says_so_and_stops(page: Page, newsroom: Newsroom) -> None:
    await newsroom.post("Last words")
    await open_live(page, newsroom)
    r = await newsroom.client.patch(
        "/api/blogs/storm", json={"status": "ended"}, headers=newsroom.tokens.auth("admin")
    )
    assert r.status_code == 200
    await expect(page.locator("[data-ended]")).to_be_visible()
    await expect(page.locator("[data-ended]")).to_contain_text("This live blog has ended")
    await expect(page.locator("body")).to_have_attribute("data-connection", "ended")
    await page.wait_for_timeout(300)
    assert services(newsroom.server.app).hub.reader_count() == 1  # only the page cache's watcher


async def test_screenshot_for_the_readme(page: Page, newsroom: Newsroom) -> None:
    """Not an assertion of looks: a picture of a realistic page for docs/screenshot.png."""
    await newsroom.blog("election", "Election night 2026: results as they come in")
    notice = "Polls closed at 10pm. Results are expected from 1am."
    await newsroom.client.patch(
        "/api/blogs/election", json={"notice": notice}, headers=newsroom.tokens.auth("admin")
    )
    entries = [
        (
            "Exit poll: Blue Party ahead",
            "The broadcasters' exit poll puts the **Blue Party** on "
            "312 seats, short of a majority by 14.\n\n> It's a long night ahead. — campaign chief",
            True,
        ),
        (
            None,
            "Turnout in the capital looks higher than in 2022, officials at three counting "
            "centres tell our reporters.",
            False,
        ),
        (
            "What happens next",
            "- First results from about 1am\n- Most seats declared by 6am\n"
            "- Final result expected by lunchtime",
            False,
        ),
        (
            "First seat declared",
            "Northfield South is **held** by the Green Party with a majority "
            "of 4,210, up from 2,980.",
            True,
        ),
    ]
    for headline, body, key in entries:
        await newsroom.post(body, slug="election", headline=headline, key_event=key)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await open_live(page, newsroom, "election")
    await newsroom.post(
        "Recount requested in Eastbridge after a margin of **eleven votes**.",
        slug="election", headline="Recount in Eastbridge",
    )  # fmt: skip
    await expect(page.locator("[data-feed] article").first).to_contain_text("Recount")
    docs = Path(__file__).resolve().parents[2] / "docs"
    update = bool(os.environ.get("UPDATE_SCREENSHOT"))
    await page.screenshot(path=str(docs / "screenshot.png") if update else None)
    # A shared entry's own page: the entry among its neighbours, highlighted.
    await page.get_by_role("link", name=re.compile("First seat declared")).first.click()
    await page.locator("[data-feed] article.key-event").first.locator(".permalink").click()
    await expect(page.locator("article.focus")).to_be_visible()
    await page.screenshot(path=str(docs / "entry.png") if update else None)


# --- every entry has an address ------------------------------------------------------------


async def test_a_shared_link_to_an_old_entry_shows_it_among_its_neighbours_live(
    page: Page, newsroom: Newsroom, browser: Browser
) -> None:
    ids = [(await newsroom.post(f"Update {n}"))["id"] for n in range(1, 201)]
    wanted = ids[149]  # the 150th of 200: far from the first page
    # A link to the blog with the entry's fragment, as a reader might paste it.
    await page.goto(f"{newsroom.server.url}/blogs/storm#entry-{wanted}")
    await expect(page).to_have_url(re.compile(rf"/blogs/storm/entries/{wanted}#entry-{wanted}$"))
    article = page.locator(f"#entry-{wanted}")
    await expect(article).to_be_in_viewport()
    await expect(article).to_have_class(re.compile(r"\bfocus\b"))
    await expect(page.locator(f"#entry-{ids[150]}")).to_be_attached()  # a newer neighbour
    await expect(page.locator(f"#entry-{ids[148]}")).to_be_attached()  # an older one
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    live = await newsroom.post("Arrives while the reader looks at an old update")
    # It arrives live, held behind the button: the reader's place does not move.
    await expect(page.locator("[data-new-updates]")).to_have_text("1 new update")
    await page.locator("[data-new-updates]").click()
    await expect(page.locator(f"#entry-{live['id']}")).to_be_attached()

    # The same without JavaScript: the server renders the page around the entry.
    context = await browser.new_context(java_script_enabled=False)
    bare = await context.new_page()
    await bare.goto(f"{newsroom.server.url}/blogs/storm/entries/{wanted}")
    await expect(bare.locator(f"#entry-{wanted}.focus")).to_contain_text("Update 150")
    await expect(bare.locator("[data-feed] article")).to_have_count(26)  # 5 newer + it + 20
    await context.close()


async def test_share_copies_the_link_where_there_is_no_share_sheet(
    browser: Browser, newsroom: Newsroom
) -> None:
    """No Web Share API here: the link is copied and the button says so. (Headless Chromium
    may leave a copy made in a user gesture pending; then, after a bounded wait, the button
    shows the link itself, to copy by hand. Either is a visible answer.)"""
    entry = await newsroom.post("Worth sharing", headline="Polls close")
    url = f"{newsroom.server.url}/blogs/storm/entries/{entry['id']}"
    context = await browser.new_context()
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    assert await page.evaluate("!('share' in navigator)")  # as on most desktops
    await expect(
        page.locator(f"#entry-{entry['id']}").get_by_role("button", name="Share")
    ).to_be_visible()
    share = page.locator(f"#entry-{entry['id']} [data-share]")  # its name changes when used
    await share.focus()
    await page.keyboard.press("Enter")  # keyboard friendly
    await expect(share).to_have_text(re.compile(rf"^(Link copied|{re.escape(url)})$"))
    announced = page.locator("[data-announcer]")
    if await share.text_content() == "Link copied":
        await expect(announced).to_have_text("Link to this update copied")
        assert await page.evaluate("navigator.clipboard.readText()") == url
    else:
        await expect(announced).to_have_text(f"Link: {url}")
    await context.close()


async def test_updates_since_the_last_visit_are_marked(page: Page, newsroom: Newsroom) -> None:
    await newsroom.post("Seen on the first visit")
    await open_live(page, newsroom)
    await expect(page.locator(".since-visit")).to_have_count(0)  # a first visit says nothing
    await page.goto("about:blank")
    fresh = [await newsroom.post(f"While away {n}") for n in range(3)]
    await open_live(page, newsroom)
    await expect(page.locator(".since-visit")).to_contain_text("3 updates since your last visit")
    await expect(page.locator("[data-feed] article.unseen")).to_have_count(3)
    await page.get_by_role("button", name="Start with the first").click()
    await expect(page.locator(f"#entry-{fresh[0]['id']}")).to_be_in_viewport()
    # Seen now: the next visit starts from here.
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    await expect(page.locator(".since-visit")).to_have_count(0)


async def test_oldest_first_appends_live_posts_and_keeps_the_readers_place(
    page: Page, newsroom: Newsroom
) -> None:
    ids = [(await newsroom.post(f"Update {n}\n\n" + "Detail. " * 40))["id"] for n in range(8)]
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    await page.get_by_role("link", name="Oldest first").click()
    await expect(page).to_have_url(re.compile(r"\?order=oldest"))
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    shown = await page.locator("[data-feed] article").evaluate_all(
        "a => a.map(x => Number(x.dataset.id))"
    )
    assert shown == ids  # from the start
    await page.locator(f"#entry-{ids[3]}").scroll_into_view_if_needed()
    before = await page.evaluate("window.scrollY")
    live = await newsroom.post("Appended at the end")
    await expect(page.locator("[data-feed] article").last).to_have_id(f"entry-{live['id']}")
    assert await page.evaluate("window.scrollY") == before  # nothing moved under the reader
    # The choice is remembered: the blog's address opens oldest first next time.
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    await expect(page).to_have_url(re.compile(r"\?order=oldest"))
    await page.get_by_role("link", name="Newest first").click()
    await expect(page.locator("[data-feed] article").first).to_have_id(f"entry-{live['id']}")


# --- embeds with consent --------------------------------------------------------------------


async def test_embeds_load_nothing_from_providers_until_the_reader_agrees(
    page: Page, newsroom: Newsroom
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    video = await newsroom.post("The minister's statement:\n\nhttps://youtu.be/dQw4w9WgXcQ")
    post = await newsroom.post("https://x.com/BBCBreaking/status/1860000000000000000")
    skeet = await newsroom.post("https://bsky.app/profile/bbc.co.uk/post/3lbf3etdjxc24")
    await open_live(page, newsroom)
    figures = page.locator("figure.embed")
    await expect(figures).to_have_count(3)
    await expect(page.locator(f"#entry-{video['id']} .embed-show")).to_have_text(
        "Show YouTube content"
    )
    await page.wait_for_timeout(300)
    server = newsroom.server.url
    assert requested and all(url.startswith(server) for url in requested), requested
    assert await page.locator("iframe").count() == 0

    await page.locator(f"#entry-{video['id']} .embed-show").click()
    frame = page.locator(f"#entry-{video['id']} iframe")
    await expect(frame).to_have_attribute(
        "src", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
    )
    await page.wait_for_timeout(300)
    outside = [url for url in requested if not url.startswith(server)]
    assert outside and all(
        url.startswith("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ") for url in outside
    ), outside
    assert await page.locator("iframe").count() == 1

    # "Always allow" is remembered: after a reload, Bluesky's embeds load by themselves,
    # X's still wait.
    bluesky = page.locator(f"#entry-{skeet['id']}")
    await bluesky.locator(".embed-always input").check()
    await bluesky.locator(".embed-show").click()
    await expect(bluesky.locator("iframe")).to_have_count(1)
    requested.clear()
    await page.reload()
    await expect(page.locator(f"#entry-{skeet['id']} iframe")).to_have_count(1)
    await expect(page.locator(f"#entry-{post['id']} .embed-show")).to_be_visible()
    await expect(page.locator(f"#entry-{video['id']} .embed-show")).to_be_visible()
    await page.wait_for_timeout(300)
    outside = [url for url in requested if not url.startswith(server)]
    assert outside and all(url.startswith("https://embed.bsky.app/") for url in outside), outside
    # A live entry's embed follows the same rule.
    await newsroom.post("https://bsky.app/profile/reuters.com/post/3lbfaaaaaaaaa")
    await expect(page.locator("[data-feed] article").first.locator("iframe")).to_have_count(1)


async def test_without_javascript_an_embed_is_a_plain_link(
    browser: Browser, newsroom: Newsroom
) -> None:
    await newsroom.post("https://youtu.be/dQw4w9WgXcQ")
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(f"{newsroom.server.url}/blogs/storm")
    link = page.locator("figure.embed a")
    await expect(link).to_have_attribute("href", "https://youtu.be/dQw4w9WgXcQ")
    assert await page.locator("figure.embed button").count() == 0
    assert all(url.startswith(newsroom.server.url) for url in requested)
    await context.close()
