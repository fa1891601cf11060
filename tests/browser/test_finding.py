"""Finding things in Chromium: a filtered page stays live (new entries that match appear,
others do not; edits move entries in and out), and search works from the blog's page, in
English, Russian and Arabic."""

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Newsroom, open_page


def feed_ids(page: Page) -> object:
    return page.locator("[data-feed] > article").evaluate_all("list => list.map(a => a.dataset.id)")


async def test_a_filtered_page_stays_live(browser: Browser, newsroom: Newsroom) -> None:
    first = await newsroom.post("Winds reach #coast")
    inland = await newsroom.post("Rain inland", tags=["inland"])
    async with open_page(browser) as page:
        await page.goto(f"{newsroom.server.url}/blogs/storm")
        await page.click('[data-filters] a[href$="?tag=coast"]')
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")
        await expect(page.locator("body")).to_have_attribute("data-filter-tag", "coast")
        feed = page.locator("[data-feed] > article")
        await expect(feed).to_have_count(1)

        # A new entry that matches appears; one that does not, does not.
        await newsroom.post("Ferries stop", tags=["inland"])
        match = await newsroom.post("Harbour closed on the #Coast")
        await expect(feed).to_have_count(2)
        assert await feed_ids(page) == [str(match["id"]), str(first["id"])]
        await expect(page.locator("[data-key-events] li")).to_have_count(0)

        # An edit that adds the tag brings an entry in, where it belongs by time.
        await newsroom.patch(inland["id"], tags=["inland", "coast"])
        await expect(feed).to_have_count(3)
        assert await feed_ids(page) == [str(match["id"]), str(inland["id"]), str(first["id"])]
        await expect(page.locator(f"#entry-{inland['id']} .tags")).to_contain_text("#coast")
        # An edit that takes it away takes the entry out; a delete too.
        await newsroom.patch(first["id"], body="Winds reach the hills")
        await expect(feed).to_have_count(2)
        await newsroom.client.delete(
            f"/api/blogs/storm/entries/{match['id']}", headers=newsroom.tokens.auth("editor")
        )
        await expect(feed).to_have_count(1)
        assert await feed_ids(page) == [str(inland["id"])]

        # A tag on an entry is a link to its filter.
        await page.click(f"#entry-{inland['id']} .tags a:text('#inland')")
        await expect(page.locator("body")).to_have_attribute("data-filter-tag", "inland")
        await expect(feed).to_have_count(2)  # "Rain inland", "Ferries stop"


async def test_key_events_only_stays_live(browser: Browser, newsroom: Newsroom) -> None:
    await newsroom.post("Calm morning")
    async with open_page(browser) as page:
        await page.goto(f"{newsroom.server.url}/blogs/storm?key_events=1")
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")
        await expect(page.locator("[data-feed-empty]")).to_contain_text("No updates match yet.")
        feed = page.locator("[data-feed] > article")
        await newsroom.post("Minor news")
        key = await newsroom.post("Red warning issued", key_event=True)
        await expect(feed).to_have_count(1)
        await expect(feed).to_contain_text("Red warning issued")
        await newsroom.patch(key["id"], key_event=False)
        await expect(feed).to_have_count(0)


async def search_from_the_page(page: Page, newsroom: Newsroom, slug: str, query: str) -> None:
    await page.goto(f"{newsroom.server.url}/blogs/{slug}")
    await page.fill("form.search input[name=q]", query)
    await page.press("form.search input[name=q]", "Enter")
    await expect(page.locator("[data-results]")).to_be_visible()


async def test_search_from_the_blog_page(browser: Browser, newsroom: Newsroom) -> None:
    hit = await newsroom.post("Power lines are down across the valley.", headline="Outages")
    await newsroom.post("Schools are closed.")
    async with open_page(browser, java_script_enabled=False) as page:
        await search_from_the_page(page, newsroom, "storm", "line")
        results = page.locator("[data-results] li")
        await expect(results).to_have_count(1)
        await expect(results.locator("mark")).to_have_text("lines")
        await results.locator("h2 a").click()
        await expect(page).to_have_url(f"{newsroom.server.url}/blogs/storm/entries/{hit['id']}")


async def test_search_in_russian_and_arabic(browser: Browser, newsroom: Newsroom) -> None:
    for slug, lang in (("burya", "ru"), ("asifa", "ar")):
        made = await newsroom.client.post(
            "/api/blogs",
            json={"slug": slug, "title": slug, "language": lang},
            headers=newsroom.tokens.auth("admin"),
        )
        assert made.status_code == 201
    await newsroom.post("Ураган обесточил дома на побережье.", slug="burya")
    await newsroom.post("انقطعت الكهرباءُ عن المنازل.", slug="asifa")
    async with open_page(browser) as page:
        await search_from_the_page(page, newsroom, "burya", "дом")
        await expect(page.locator("[data-results] mark")).to_have_text("дома")
        await expect(page.locator("html")).to_have_attribute("lang", "ru")
        await expect(page.locator("form.search button")).to_have_text("Искать")
        await search_from_the_page(page, newsroom, "asifa", "الكهرباء")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("[data-results] mark")).to_have_text("الكهرباءُ")
        await expect(page.locator("form.search button")).to_have_text("بحث")


async def test_bylines_follow_their_profiles(browser: Browser, newsroom: Newsroom) -> None:
    async def profile(**fields: object) -> int:
        r = await newsroom.client.post(
            "/api/authors", json=fields, headers=newsroom.tokens.auth("admin")
        )
        assert r.status_code == 201
        return int(r.json()["id"])

    ann = await profile(name="Ann Lee", role="Reporter", url="https://news.example/ann")
    bob = await profile(name="Bob Diaz")
    both = await newsroom.post("Together", authors=[ann, bob])
    async with open_page(browser) as page:
        await page.goto(f"{newsroom.server.url}/blogs/storm?author={ann}")
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")
        feed = page.locator("[data-feed] > article")
        await expect(feed).to_have_count(1)
        await expect(page.locator("[data-filter-note]")).to_contain_text("Updates by Ann Lee.")
        bylines = page.locator(f"#entry-{both['id']} .byline")
        await expect(bylines).to_have_count(2)
        await expect(bylines.first).to_contain_text("Ann Lee")
        await expect(bylines.first.locator("a[rel=author]")).to_have_attribute(
            "href", "https://news.example/ann"
        )
        # Bob's alone stays out; Ann's comes in, bylined.
        await newsroom.post("Bob alone", authors=[bob])
        await newsroom.post("Ann alone", authors=[ann])
        await expect(feed).to_have_count(2)
        await expect(feed.first.locator(".byline")).to_have_text("Ann Lee Reporter Profile")
        # A rename shows on every entry of the open page at once.
        r = await newsroom.client.patch(
            f"/api/authors/{ann}", json={"name": "Ann Lee-Park"},
            headers=newsroom.tokens.auth("admin"),
        )  # fmt: skip
        assert r.status_code == 200
        await expect(page.locator(".byline-name", has_text="Ann Lee-Park")).to_have_count(2)
        await expect(page.locator(".byline-name", has_text="Ann Lee")).to_have_count(2)
