"""The newsroom page in real Chromium: composing, flaky networks, images, conflicts."""

import os
import re
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, Route, expect

from tests.browser.conftest import Newsroom

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


async def sign_in(page: Page, newsroom: Newsroom, role: str = "editor") -> None:
    await page.goto(f"{newsroom.server.url}/newsroom")
    await page.fill("#token-input", getattr(newsroom.tokens, role))
    await page.click("#sign-in-form button")
    await expect(page.locator("#who")).to_contain_text(role)
    await expect(page.locator("#connection")).to_have_text("live")


async def entries(newsroom: Newsroom, status: str = "published") -> list[dict[str, object]]:
    response = await newsroom.client.get(
        "/api/blogs/storm/entries",
        params={"status": status},
        headers=newsroom.tokens.auth("editor"),
    )
    found: list[dict[str, object]] = response.json()["entries"]
    return found


async def test_compose_with_preview_and_post_with_the_keyboard(
    page: Page, newsroom: Newsroom
) -> None:
    await sign_in(page, newsroom)
    await page.fill("#c-headline", "Polls close")
    await page.fill("#c-body", "Polls have **closed**\n\n- North: 61%\n- South: 58%")
    await expect(page.locator("#c-preview strong")).to_have_text("closed")
    await expect(page.locator("#c-preview li")).to_have_count(2)
    await page.check("#c-key")

    await page.reload()  # what was being typed survives
    await expect(page.locator("#c-body")).to_have_value(
        "Polls have **closed**\n\n- North: 61%\n- South: 58%"
    )
    await expect(page.locator("#c-key")).to_be_checked()

    await page.focus("#c-body")
    await page.keyboard.press("Control+Enter")
    card = page.locator("#entries .entry").first
    await expect(card.locator(".headline")).to_have_text("Polls close")
    await expect(card.locator(".badge.key")).to_be_visible()
    await expect(page.locator("#c-body")).to_have_value("")
    await expect(page.locator("#outbox li")).to_have_count(0)
    [posted] = await entries(newsroom)
    assert (posted["headline"], posted["key_event"], posted["author"]) == (
        "Polls close", True, "Ed Editor",
    )  # fmt: skip


async def test_a_post_through_a_flaky_network_arrives_exactly_once(
    page: Page, newsroom: Newsroom
) -> None:
    await sign_in(page, newsroom)
    attempts: list[str] = []

    async def flaky(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        attempts.append(route.request.headers["idempotency-key"])
        if len(attempts) == 1:
            await route.fetch()  # the server stores it, and the answer is lost
            await route.abort("connectionreset")
        elif len(attempts) == 2:
            await route.abort("internetdisconnected")  # then the phone is offline
        else:
            await route.continue_()

    await page.route("**/api/blogs/storm/entries", flaky)
    await page.fill("#c-body", "From the field, on one bar of signal")
    await page.click("#c-post")
    await expect(page.locator("#entries .entry .body")).to_have_text(
        "From the field, on one bar of signal", timeout=15_000
    )
    await expect(page.locator("#outbox li")).to_have_count(0)
    assert len(attempts) == 3 and len(set(attempts)) == 1  # one key across every retry
    assert [e["body"] for e in await entries(newsroom)] == ["From the field, on one bar of signal"]


async def test_an_unsent_post_survives_a_reload_and_goes_out_after(
    page: Page, newsroom: Newsroom
) -> None:
    await sign_in(page, newsroom)
    await page.route(
        "**/api/blogs/storm/entries", lambda route: route.abort("internetdisconnected")
    )
    await page.fill("#c-body", "Written in a tunnel")
    await page.click("#c-post")
    await expect(page.locator("#outbox li")).to_contain_text("Written in a tunnel")
    await page.unroute("**/api/blogs/storm/entries")
    await page.reload()  # the outbox is kept, and sent once signed in again
    await expect(page.locator("#entries .entry .body")).to_have_text("Written in a tunnel")
    assert len(await entries(newsroom)) == 1


async def test_an_image_chosen_from_a_file_shows_with_its_caption_to_readers(
    page: Page, newsroom: Newsroom, tmp_path: Path
) -> None:
    photo = tmp_path / "crowd.jpg"
    out = BytesIO()
    Image.new("RGB", (2400, 1200), (30, 60, 90)).save(out, "JPEG")
    photo.write_bytes(out.getvalue())

    await sign_in(page, newsroom)
    await page.fill("#c-body", "Crowds gather outside the count.")
    await page.fill("#c-caption", "Crowds at the town hall")
    await page.fill("#c-credit", "Photo: Ann Lee")
    await page.set_input_files("#c-file", str(photo))
    await expect(page.locator("#c-upload")).to_contain_text("1600×800")
    await expect(page.locator("#c-preview figcaption")).to_contain_text("Crowds at the town hall")
    await page.click("#c-post")
    await expect(page.locator("#entries figure img")).to_be_visible()

    await page.goto(f"{newsroom.server.url}/blogs/storm")
    figure = page.locator("article figure").first
    await expect(figure.locator("figcaption")).to_contain_text("Crowds at the town hall")
    await expect(figure.locator(".credit")).to_have_text("Photo: Ann Lee")
    await expect(figure.locator("img")).to_have_attribute("loading", "lazy")
    width = await figure.locator("img").evaluate("img => img.complete && img.naturalWidth")
    assert width == 1600


async def test_an_edit_over_someone_elses_change_shows_the_conflict(
    page: Page, newsroom: Newsroom
) -> None:
    entry = await newsroom.post("Turnout is 40%")
    await sign_in(page, newsroom)
    card = page.locator(f'#entries .entry[data-id="{entry["id"]}"]')
    await card.get_by_role("button", name="Edit").click()
    await newsroom.patch(entry["id"], body="Turnout is 45% (corrected)")  # a colleague, meanwhile

    await card.locator("textarea").fill("Turnout is 42%")
    await card.get_by_role("button", name="Save", exact=True).click()
    alert = card.locator(".conflict")
    await expect(alert).to_contain_text("Someone else changed this entry")
    await expect(alert).to_contain_text("45% (corrected)")
    [stored] = await entries(newsroom)
    assert stored["body"] == "Turnout is 45% (corrected)"  # nothing overwritten

    await alert.get_by_role("button", name="Save mine over theirs").click()
    await expect(page.locator(f'#entries .entry[data-id="{entry["id"]}"] .body')).to_have_text(
        "Turnout is 42%"
    )


async def test_a_draft_waits_in_the_newsroom_until_published(
    page: Page, newsroom: Newsroom
) -> None:
    await sign_in(page, newsroom)
    await page.fill("#c-body", "Embargoed until the result")
    await page.select_option("#c-when", "draft")
    await page.click("#c-post")
    draft = page.locator("#drafts .entry")
    await expect(draft.locator(".badge.draft")).to_be_visible()
    assert await entries(newsroom) == []

    await draft.get_by_role("button", name="Publish now").click()
    await expect(page.locator("#entries .entry .body")).to_have_text("Embargoed until the result")
    await expect(page.locator("#drafts .entry")).to_have_count(0)
    assert [e["status"] for e in await entries(newsroom)] == ["published"]


async def test_delete_asks_first_and_admins_manage_tokens(page: Page, newsroom: Newsroom) -> None:
    entry = await newsroom.post("A mistake")
    await sign_in(page, newsroom, "admin")
    card = page.locator(f'#entries .entry[data-id="{entry["id"]}"]')
    page.once("dialog", lambda dialog: dialog.dismiss())
    await card.get_by_role("button", name="Delete").click()
    await expect(card).to_be_visible()  # said no
    page.once("dialog", lambda dialog: dialog.accept())
    await card.get_by_role("button", name="Delete").click()
    await expect(card).to_have_count(0)
    assert await entries(newsroom) == []

    await page.fill("#t-name", "Night desk")
    await page.select_option("#t-role", "reporter")
    await page.click("#token-form button")
    await expect(page.locator("#t-new")).to_contain_text("lu_")
    await expect(page.locator("#token-rows")).to_contain_text("Night desk")


async def test_an_editors_queue_receives_a_submission_live_and_approves_it(
    browser: Browser, page: Page, newsroom: Newsroom
) -> None:
    await newsroom.post("Polls have closed. Counting starts at 11pm.", headline="Polls close")
    await newsroom.post(
        "Turnout is the highest since 1992.\n\nhttps://youtu.be/dQw4w9WgXcQ", key_event=True
    )
    await sign_in(page, newsroom, "editor")
    await expect(page.locator("#queue")).to_contain_text("Nothing waiting for approval.")
    await expect(page.locator("#audience")).to_have_text(re.compile(r"^\d+ reading$"))

    # A contributor, in a newsroom of their own, submits: no publishing choices for them.
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    stringer = await context.new_page()
    await sign_in(stringer, newsroom, "contributor")
    await expect(stringer.locator("#c-key")).to_be_hidden()
    await expect(stringer.locator("#drafts-panel")).to_be_hidden()
    await expect(stringer.locator("#c-post")).to_have_text("Submit for approval")
    await stringer.fill("#c-headline", "Queue outside Hillside school")
    await stringer.fill("#c-body", "About **200 people** are waiting to vote.")
    await stringer.click("#c-post")
    await expect(stringer.locator("#queue article")).to_contain_text("Queue outside Hillside")
    [submitted] = await entries(newsroom, "submitted")
    assert (
        await newsroom.client.get(f"/api/blogs/storm/entries/{submitted['id']}")
    ).status_code == 404

    # The editor's queue shows it without a reload, with who sent it and when.
    card = page.locator(f"#queued-{submitted['id']}")
    await expect(card).to_be_visible(timeout=8000)
    await expect(card.locator(".author")).to_have_text("Cleo Stringer")
    await expect(page.locator("#queue-count")).to_have_text("1 waiting")
    if os.environ.get("UPDATE_SCREENSHOT"):
        await page.set_viewport_size({"width": 1280, "height": 1100})
        await page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs/newsroom.png"))
        await page.set_viewport_size({"width": 1200, "height": 800})

    # Returned with a note: the contributor sees it, edits and resubmits.
    page.once("dialog", lambda dialog: dialog.accept("Please name your source."))
    await card.get_by_role("button", name="Return…").click()
    note = stringer.locator(f"#queued-{submitted['id']} .review-note")
    await expect(note).to_contain_text("Please name your source.", timeout=8000)
    await (
        stringer.locator(f"#queued-{submitted['id']}")
        .get_by_role("button", name="Resubmit")
        .click()
    )
    await expect(page.locator(f"#queued-{submitted['id']} .badge.submitted")).to_be_visible(
        timeout=8000
    )

    await (
        page.locator(f"#queued-{submitted['id']}")
        .get_by_role("button", name="Approve and publish")
        .click()
    )
    await expect(page.locator(f"#card-{submitted['id']}")).to_be_visible()
    await expect(page.locator("#queue")).to_contain_text("Nothing waiting for approval.")
    reader = await context.new_page()
    await reader.goto(f"{newsroom.server.url}/blogs/storm")
    article = reader.locator(f"#entry-{submitted['id']}")
    await expect(article).to_contain_text("About 200 people are waiting to vote.")
    await expect(article.locator(".author")).to_have_text("Cleo Stringer")
    await expect(stringer.locator("#queue")).to_contain_text("Nothing submitted.", timeout=8000)
    # The one reader counts; the two newsrooms watching the blog do not (counted every 5 s,
    # asked for every 5 s).
    await expect(page.locator("#audience")).to_have_text("1 reading", timeout=15000)
    await context.close()


async def test_admins_keep_bylines_and_entries_carry_them_with_tags(
    page: Page, newsroom: Newsroom
) -> None:
    await sign_in(page, newsroom, "admin")
    for name, role in (("Ann Lee", "Kyiv correspondent"), ("Bob Diaz", "")):
        await page.fill("#a-name", name)
        await page.fill("#a-role", role)
        await page.click("#a-save")
        await expect(page.locator("#author-rows")).to_contain_text(name)
    # Tie the editor's token to Ann: its entries carry her byline by default.
    row = page.locator("#token-rows tr", has_text="Ed Editor")
    await row.locator("select").select_option(label="Ann Lee")
    await expect(
        page.locator("#token-rows tr", has_text="Ed Editor").locator("select")
    ).to_have_value(
        str(
            (
                await newsroom.client.get("/api/authors", headers=newsroom.tokens.auth("admin"))
            ).json()["authors"][0]["id"]
        )
    )

    # An entry by two, tagged; its card shows both bylines and the tags.
    await page.fill("#c-body", "The bridge is closed. #Traffic")
    await page.fill("#c-tags", "roads, #Bridges")
    await page.locator("#c-authors").select_option(
        label=["Ann Lee (Kyiv correspondent)", "Bob Diaz"]
    )
    await page.click("#c-post")
    card = page.locator("#entries .entry").first
    await expect(card.locator(".byline-name")).to_have_text(["Ann Lee", "Bob Diaz"])
    await expect(card.locator(".tags a")).to_have_text(["#roads", "#bridges", "#traffic"])
    [posted] = await entries(newsroom)
    assert [a["name"] for a in posted["authors"]] == ["Ann Lee", "Bob Diaz"]  # type: ignore[union-attr]

    # Renamed in the newsroom: the card and the API show the new name.
    await (
        page.locator("#author-rows tr", has_text="Bob Diaz")
        .get_by_role("button", name="Edit")
        .click()
    )
    await page.fill("#a-name", "Roberto Diaz")
    await page.click("#a-save")
    await expect(card.locator(".byline-name")).to_have_text(["Ann Lee", "Roberto Diaz"])
    # Editing the tags in place.
    await card.get_by_role("button", name="Edit").click()
    await page.locator(".edit-tags").fill("roads")
    await page.locator(".edit-form button[type=submit]").click()
    await expect(card.locator(".tags a")).to_have_text(["#roads", "#traffic"])
