"""Filtered pages and search pages: links that work without JavaScript, each filter cached
as a page of its own."""

import re

import httpx

from tests.conftest import Tokens
from tests.site.test_pages import post

Blog = dict[str, object]


def shown(page: str) -> list[int]:
    feed = page.split("data-feed>", 1)[1].split("</main>", 1)[0]
    return [int(n) for n in re.findall(r'<article class="entry[^"]*" id="entry-(\d+)"', feed)]


async def test_a_filter_is_a_page_of_its_own(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    a = await post(client, tokens, body="Polls close in #ohio")
    b = await post(client, tokens, body="#Ohio called", key_event=True)
    c = await post(client, tokens, body="Florida counts", tags=["florida"])

    page = (await client.get("/blogs/election-night")).text
    assert shown(page) == [c["id"], b["id"], a["id"]]
    bar = re.search(r'<nav class="filters".*?</nav>', page, re.S)
    assert bar is not None
    assert re.findall(r'\?tag=(\w+)" rel="tag"', bar.group(0)) == ["ohio", "florida"]
    assert '<a href="/blogs/election-night?tag=ohio" rel="tag">#ohio</a>' in page  # on the entry

    tagged = await client.get("/blogs/election-night", params={"tag": "Ohio"})
    assert shown(tagged.text) == [b["id"], a["id"]]
    assert 'data-filter-tag="ohio"' in tagged.text
    assert "Updates tagged #ohio." in tagged.text
    assert '<meta name="robots" content="noindex, follow">' in tagged.text
    assert '<link rel="canonical" href="http://testserver/blogs/election-night">' in tagged.text
    key = await client.get("/blogs/election-night?key_events=1")
    assert shown(key.text) == [b["id"]]
    assert "data-filter-key-events" in key.text
    both = await client.get("/blogs/election-night?tag=florida&key_events=1")
    assert shown(both.text) == []
    assert "No updates match yet." in both.text
    oldest = await client.get("/blogs/election-night?order=oldest&tag=ohio")
    assert shown(oldest.text) == [a["id"], b["id"]]
    # The reading order keeps the filter.
    assert 'href="http://testserver/blogs/election-night?order=oldest&amp;tag=ohio"' in tagged.text

    # Each filter is cached as itself, and changes with the blog.
    again = await client.get("/blogs/election-night?tag=ohio")
    assert again.headers["etag"] == tagged.headers["etag"]
    d = await post(client, tokens, body="More from #ohio")
    after = await client.get("/blogs/election-night?tag=ohio")
    assert shown(after.text) == [d["id"], b["id"], a["id"]]
    assert shown((await client.get("/blogs/election-night?tag=florida")).text) == [c["id"]]


async def test_a_filtered_page_pages_back_within_its_filter(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    tagged = [await post(client, tokens, body=f"#recount {n}") for n in range(22)]
    for n in range(3):
        await post(client, tokens, body=f"other {n}")
    page = (await client.get("/blogs/election-night?tag=recount")).text
    assert shown(page) == [e["id"] for e in reversed(tagged)][:20]
    older = re.search(r'href="[^"]*\?before=([\w-]+)&amp;tag=recount" data-older', page)
    assert older is not None
    rest = await client.get(f"/blogs/election-night?before={older.group(1)}&tag=recount")
    assert shown(rest.text) == [tagged[1]["id"], tagged[0]["id"]]


async def test_search_pages_work_without_javascript(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    hit = await post(client, tokens, headline="Turnout", body="Turnout <i>records</i> broken")
    await post(client, tokens, body="Nothing to see")
    page = (await client.get("/blogs/election-night")).text
    assert '<form class="search" action="http://testserver/blogs/election-night/search"' in page

    found = await client.get("/blogs/election-night/search", params={"q": "record"})
    assert found.status_code == 200
    assert f'<a href="/blogs/election-night/entries/{hit["id"]}">Turnout</a>' in found.text
    assert "Turnout &lt;i&gt;<mark>records</mark>&lt;/i&gt; broken" in found.text
    assert 'value="record"' in found.text
    none = await client.get("/blogs/election-night/search", params={"q": "zebra"})
    assert "Nothing found for “zebra”." in none.text
    empty = await client.get("/blogs/election-night/search")
    assert empty.status_code == 200 and 'class="result"' not in empty.text
    everywhere = await client.get("/search", params={"q": "turnout"})
    assert 'class="result-blog">Election night</span>' in everywhere.text
    assert (await client.get("/blogs/nowhere/search?q=a")).status_code == 404
    assert (await client.get("/search", params={"q": "x" * 201})).status_code == 422


async def test_search_pages_turn(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    for n in range(25):
        await post(client, tokens, body=f"Ballot update {n}")
    first = (await client.get("/blogs/election-night/search?q=ballot")).text
    assert first.count('class="result"') == 20
    assert 'href="?q=ballot&amp;page=2" rel="next"' in first
    second = (await client.get("/blogs/election-night/search?q=ballot&page=2")).text
    assert second.count('class="result"') == 5
    assert 'start="21"' in second and 'rel="next"' not in second
