"""Server-rendered pages and feeds: complete without JavaScript, cached per offset."""

import gzip
import re
from datetime import datetime
from html.parser import HTMLParser
from xml.etree import ElementTree

import feedparser
import httpx
import orjson
import pytest

from app.resources import STATIC_VERSION, WEB
from tests.conftest import StartServer, Tokens

Blog = dict[str, object]


async def post(client: httpx.AsyncClient, tokens: Tokens, **payload: object) -> dict[str, object]:
    r = await client.post(
        "/api/blogs/election-night/entries", json=payload, headers=tokens.auth("editor")
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


class Tags(HTMLParser):
    """Every <script> and every on* attribute of a page, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [(tag, name) for name, _ in attrs if name.startswith("on")]


def json_ld(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found is not None
    return dict(orjson.loads(found.group(1)))


async def test_blog_page_is_complete_without_javascript(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    await client.patch(
        "/api/blogs/election-night", json={"notice": "Polls close at 10pm"},
        headers=tokens.auth("admin"),
    )  # fmt: skip
    key = await post(client, tokens, headline="Exit poll", body="Party A *ahead*", key_event=True)
    pinned = await post(client, tokens, body="Editor's note: how we report", pinned=True)
    plain = await post(client, tokens, body="Turnout is high")
    await client.patch(
        f"/api/blogs/election-night/entries/{plain['id']}", json={"body": "Turnout is very high"},
        headers=tokens.auth("editor"),
    )  # fmt: skip

    r = await client.get("/blogs/election-night")
    assert r.status_code == 200
    page = r.text
    assert "<title>Live updates | Election night</title>" in page
    assert "Polls close at 10pm" in page
    assert f'id="entry-{key["id"]}"' in page and f'id="entry-{plain["id"]}"' in page
    assert f'id="pinned-{pinned["id"]}"' in page
    assert "<em>ahead</em>" in page
    assert "Key event" in page and "Updated" in page
    assert 'data-offset="5"' in page  # the client resumes from here
    # The key events panel links to the entry.
    assert f'<li data-id="{key["id"]}"><a href="#entry-{key["id"]}">' in page
    # Newest first: the edited entry keeps its place by publication time.
    order = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', page)]
    assert order == [plain["id"], pinned["id"], key["id"]]


async def test_json_ld_describes_the_live_blog(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await post(client, tokens, headline="First", body="Counting **starts**")
    data = json_ld((await client.get("/blogs/election-night")).text)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "LiveBlogPosting"
    assert data["headline"] == "Election night"
    assert data["description"] == "Results"
    assert data["url"] == "http://testserver/blogs/election-night"
    assert data["datePublished"] == data["coverageStartTime"]
    assert "coverageEndTime" not in data
    assert data["publisher"] == {"@type": "Organization", "name": "liveupdates"}
    [update] = data["liveBlogUpdate"]  # type: ignore[misc]
    assert update == {
        "@type": "BlogPosting",
        "headline": "First",
        "datePublished": update["datePublished"],
        "dateModified": update["datePublished"],
        "articleBody": "Counting starts",
        "url": f"http://testserver/blogs/election-night/entries/{entry['id']}",  # its page
        "author": [{"@type": "Person", "name": "Ed Editor"}],
    }
    await client.patch(
        "/api/blogs/election-night", json={"status": "ended"}, headers=tokens.auth("admin")
    )
    ended = (await client.get("/blogs/election-night")).text
    assert "This live blog has ended" in ended
    assert "coverageEndTime" in json_ld(ended)


async def test_nothing_breaks_out_of_the_page(client: httpx.AsyncClient, tokens: Tokens) -> None:
    evil = "</script><script>alert(1)</script><!--"
    r = await client.post(
        "/api/blogs",
        json={"slug": "xss", "title": f"Title {evil}", "description": f"Desc {evil}"},
        headers=tokens.auth("admin"),
    )
    assert r.status_code == 201
    await client.patch("/api/blogs/xss", json={"notice": evil}, headers=tokens.auth("admin"))
    body = f"{evil} <img src=x onerror=alert(1)>"
    await client.post(
        "/api/blogs/xss/entries",
        json={"headline": evil, "body": body},
        headers=tokens.auth("editor"),
    )
    page = (await client.get("/blogs/xss")).text
    tags = Tags()
    tags.feed(page)
    assert tags.scripts == [
        {"type": "application/ld+json"},
        {"type": "module", "src": f"/static/{STATIC_VERSION}/live.js"},
    ]
    assert not tags.handlers
    assert json_ld(page)["headline"] == f"Title {evil}"  # still valid JSON, still the text
    feed = (await client.get("/blogs/xss/feed.atom")).text
    parsed = feedparser.parse(feed)
    assert not parsed.bozo
    assert parsed.feed.title == f"Title {evil}"


async def test_older_updates_link_pages_back(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    ids = [(await post(client, tokens, body=f"Update {n}"))["id"] for n in range(25)]
    page = (await client.get("/blogs/election-night")).text
    shown = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', page)]
    assert shown == list(reversed(ids))[:20]
    older = re.search(r'href="([^"]*\?before=[^"]+)"', page)
    assert older is not None
    rest = (await client.get(older.group(1).replace("http://testserver", ""))).text
    shown = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', rest)]
    assert shown == list(reversed(ids))[20:]
    assert "Back to the latest" in rest and "data-archive" in rest


async def test_page_is_cached_per_offset_with_etag_and_gzip(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    first = await client.get("/blogs/election-night", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    etag = first.headers["etag"]
    assert first.headers["last-modified"]
    again = await client.get("/blogs/election-night", headers={"If-None-Match": etag})
    assert again.status_code == 304
    plain = await client.get("/blogs/election-night", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content
    assert plain.text == first.text  # httpx decoded the gzipped one: the same page

    await post(client, tokens, body="News")
    changed = await client.get("/blogs/election-night", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "News" in changed.text


async def test_a_surge_of_readers_costs_one_render(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from app.site import pages

    renders = 0
    original = pages.load_view

    async def counting(*args: object, **kwargs: object) -> pages.BlogView:
        nonlocal renders
        renders += 1
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pages, "load_view", counting)
    responses = await asyncio.gather(*(client.get("/blogs/election-night") for _ in range(50)))
    assert {r.status_code for r in responses} == {200}
    assert renders == 1
    await post(client, tokens, body="News")
    await client.get("/blogs/election-night")
    assert renders == 2


async def test_atom_feed(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    entry = await post(client, tokens, headline="Polls close", body="Counting **starts**")
    await client.patch(
        f"/api/blogs/election-night/entries/{entry['id']}", json={"body": "Counting has started"},
        headers=tokens.auth("editor"),
    )  # fmt: skip
    r = await client.get("/blogs/election-night/feed.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.text)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Election night"
    [item] = feed.entries
    assert item.title == "Polls close"
    assert item.link == f"http://testserver/blogs/election-night#entry-{entry['id']}"
    assert item.updated != item.published  # the edit shows
    assert "Counting has started" in item.content[0].value


async def test_index_and_unknown_pages(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    index = await client.get("/")
    assert index.status_code == 200
    assert 'href="/blogs/election-night"' in index.text
    assert (await client.get("/blogs/nope")).status_code == 404
    assert (await client.get("/blogs/nope/feed.atom")).status_code == 404
    assert (await client.get("/blogs/election-night?before=garbage")).status_code == 422
    assert (await client.get("/static/live.js")).status_code == 200
    versioned = await client.get(f"/static/{STATIC_VERSION}/live.js")
    assert versioned.status_code == 200 and versioned.text == (WEB / "live.js").read_text()
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    imported = await client.get(f"/static/{STATIC_VERSION}/newsroom/main.js")
    assert imported.status_code == 200  # modules import their neighbours by relative path
    embed = await client.get("/embed.js")
    assert embed.status_code == 200 and "liveupdates:height" in embed.text


async def test_served_pages_come_from_the_cache_in_front(
    start_server: StartServer, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.site import pagecache

    calls = 0
    original = pagecache.PageCache.get

    async def counting(
        self: pagecache.PageCache, *args: object, **kwargs: object
    ) -> pagecache.Rendered:
        nonlocal calls
        calls += 1
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pagecache.PageCache, "get", counting)
    server = await start_server()
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            "/api/blogs", json={"slug": "front", "title": "Front"}, headers=tokens.auth("admin")
        )
        assert r.status_code == 201
        first = await client.get("/blogs/front")
        assert calls == 1  # rendered through the app
        for _ in range(5):
            again = await client.get("/blogs/front", headers={"Accept-Encoding": "gzip"})
            assert again.text == first.text
            assert again.headers["content-encoding"] == "gzip"
        unchanged = await client.get(
            "/blogs/front", headers={"If-None-Match": first.headers["etag"]}
        )
        assert unchanged.status_code == 304
        head = await client.head("/blogs/front")
        assert head.status_code == 200 and head.content == b""
        assert calls == 1  # ...and every later request answered in front of it
        await client.post(
            "/api/blogs/front/entries", json={"body": "News"}, headers=tokens.auth("editor")
        )
        for _ in range(50):  # the post reaches the cache's watcher
            changed = await client.get("/blogs/front")
            if "News" in changed.text:
                break
        assert "News" in changed.text


async def test_security_headers_on_every_response(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    for path in ("/blogs/election-night", "/blogs/election-night", "/api/blogs", "/", "/nope"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors *" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


# --- every entry has an address ----------------------------------------------------------


class Head(HTMLParser):
    """The <meta> and <link> tags of a page's head, and its title."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in found or "name" in found):
            self.meta[found.get("property") or found["name"]] = found.get("content", "")
        elif tag == "link" and "rel" in found:
            self.links[found["rel"]] = found.get("href", "")
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def head_of(page: str) -> Head:
    head = Head()
    head.feed(page)
    return head


async def test_every_entry_has_a_page_with_its_own_card(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entries = [await post(client, tokens, body=f"Update number {n}") for n in range(1, 41)]
    shared = await post(
        client, tokens, headline="The count begins",
        body='Ballots arrive.\n\n![Boxes](/media/boxes.jpg "Boxes arrive | Photo: A. Lee")',
    )  # fmt: skip
    later = [await post(client, tokens, body=f"Later {n}") for n in range(8)]
    await client.patch(
        f"/api/blogs/election-night/entries/{shared['id']}", json={"body": "Ballots arrive."},
        headers=tokens.auth("editor"),
    )  # fmt: skip
    r = await client.get(f"/blogs/election-night/entries/{shared['id']}")
    assert r.status_code == 200
    page = r.text
    head = head_of(page)
    url = f"http://testserver/blogs/election-night/entries/{shared['id']}"
    assert head.title == "The count begins | Election night"
    assert head.links["canonical"] == url
    assert head.meta["og:url"] == url and head.meta["og:title"] == "The count begins"
    assert head.meta["og:description"] == "Ballots arrive."
    assert head.meta["twitter:card"] == "summary"  # the image went with the edit
    published = datetime.fromisoformat(str(shared["published_at"]))
    assert datetime.fromisoformat(head.meta["article:published_time"]) == published
    assert datetime.fromisoformat(head.meta["article:modified_time"]) > published
    # The entry, highlighted, among its neighbours: a few newer above, a page of older below.
    order = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', page)]
    at = order.index(int(shared["id"]))  # type: ignore[call-overload]
    assert order[:at] == [e["id"] for e in reversed(later[:5])]
    assert order[at + 1 :] == [e["id"] for e in reversed(entries)][:20]
    assert re.search(rf'<article class="entry focus" id="entry-{shared["id"]}"', page)
    assert 'data-older="' in page  # older ones page back as on the blog's page
    assert f'data-entry="{shared["id"]}"' in page and "data-archive" not in page  # live
    # Each entry's time links to its page.
    assert f'href="/blogs/election-night/entries/{later[0]["id"]}"' in page

    with_image = await post(
        client, tokens, body='![Queue](/media/queue.jpg "Queues | Photo: B. Kim")'
    )
    card = head_of((await client.get(f"/blogs/election-night/entries/{with_image['id']}")).text)
    assert card.meta["og:image"] == "http://testserver/media/queue.jpg"
    assert card.meta["twitter:card"] == "summary_large_image"
    assert card.meta["og:title"].startswith("Queues")  # no headline: the start of the text
    updates = json_ld((await client.get("/blogs/election-night")).text)["liveBlogUpdate"]
    [pictured] = [u for u in updates if u["url"].endswith(f"/entries/{with_image['id']}")]  # type: ignore[union-attr]
    assert pictured["image"] == "http://testserver/media/queue.jpg"  # type: ignore[index]


async def test_entry_pages_of_missing_drafts_and_other_blogs_are_404(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    draft = await post(client, tokens, body="Not yet", status="draft")
    gone = await post(client, tokens, body="Soon deleted")
    deleted = await client.delete(
        f"/api/blogs/election-night/entries/{gone['id']}", headers=tokens.auth("editor")
    )
    assert deleted.status_code == 204
    await client.post(
        "/api/blogs", json={"slug": "other", "title": "Other"}, headers=tokens.auth("admin")
    )
    kept = await post(client, tokens, body="Here")  # never the deleted entry's id again
    assert kept["id"] > gone["id"]
    for path in (
        f"/blogs/election-night/entries/{draft['id']}",
        f"/blogs/election-night/entries/{gone['id']}",
        "/blogs/election-night/entries/999999",
        f"/blogs/other/entries/{kept['id']}",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "This update is not here" in r.text
    assert (await client.get("/blogs/election-night/entries/0")).status_code == 422


async def test_entry_pages_are_cached_per_offset(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await post(client, tokens, body="Cached")
    path = f"/blogs/election-night/entries/{entry['id']}"
    first = await client.get(path)
    etag = first.headers["etag"]
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304
    await post(client, tokens, body="Anything new changes every page of the blog")
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 200


async def test_sitemap_lists_blogs_and_published_entries_and_robots_points_to_it(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    published = [await post(client, tokens, body=f"Entry {n}") for n in range(3)]
    draft = await post(client, tokens, body="Draft", status="draft")
    r = await client.get("/sitemap.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(r.content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
          "n": "http://www.google.com/schemas/sitemap-news/0.9"}  # fmt: skip
    locs = [u.findtext("s:loc", namespaces=ns) for u in root.findall("s:url", ns)]
    assert "http://testserver/blogs/election-night" in locs
    for entry in published:
        assert f"http://testserver/blogs/election-night/entries/{entry['id']}" in locs
    assert not any(loc and loc.endswith(f"/entries/{draft['id']}") for loc in locs)
    blog_url = root.find("s:url", ns)
    assert blog_url is not None
    assert blog_url.findtext("n:news/n:title", namespaces=ns) == "Election night"  # recent
    assert all(u.findtext("s:lastmod", namespaces=ns) for u in root.findall("s:url", ns))
    robots = await client.get("/robots.txt")
    assert "Sitemap: http://testserver/sitemap.xml" in robots.text
    assert "Disallow: /api/" in robots.text


async def test_reading_order_oldest_first(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    ids = [(await post(client, tokens, body=f"Entry {n}"))["id"] for n in range(25)]
    pinned = await post(client, tokens, body="Pinned note", pinned=True)
    page = (await client.get("/blogs/election-night", params={"order": "oldest"})).text
    shown = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', page)]
    assert shown == ids[:20]  # from the first entry on
    assert f'id="pinned-{pinned["id"]}"' in page  # pinned still on top
    assert 'data-order="oldest"' in page and 'aria-current="page">Oldest first' in page
    after = re.search(r'order=oldest&amp;after=([\w-]+)" data-newer', page)
    assert after is not None
    more = (
        await client.get(
            "/blogs/election-night", params={"order": "oldest", "after": after.group(1)}
        )
    ).text
    rest = [int(i) for i in re.findall(r'<article [^>]*id="entry-(\d+)"', more)]
    assert rest == [*ids[20:], pinned["id"]]
    assert "data-newer" not in more
    # The JSON-LD (and the feed) are the same in either order.
    newest = (await client.get("/blogs/election-night")).text
    assert json_ld(page)["liveBlogUpdate"] == json_ld(newest)["liveBlogUpdate"]
    assert (await client.get("/blogs/election-night?order=sideways")).status_code == 422
