"""oEmbed: blog and entry pages name their embed; a CMS asking `/oembed` for one of them
gets a frame of the page within its bounds; any other address is 404."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import Tokens

BASE = "http://testserver"


def discovery(page: str) -> str:
    found = re.search(
        r'<link rel="alternate" type="application/json\+oembed" [^>]*href="([^"]+)"', page
    )
    assert found, "no oEmbed discovery link"
    return unescape(found[1])


async def test_pages_name_their_embed_and_get_a_frame(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    made = await client.post(
        "/api/blogs/election-night/entries",
        json={"headline": "Polls close <now>", "body": "Counting starts."},
        headers=tokens.auth("editor"),
    )
    entry_id = made.json()["id"]
    page = (await client.get("/blogs/election-night")).text
    link = discovery(page)
    assert parse_qs(urlsplit(link).query) == {
        "url": [f"{BASE}/blogs/election-night"],
        "format": ["json"],
    }
    answer = await client.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert "max-age" in answer.headers["cache-control"]
    embed = answer.json()
    assert embed["version"] == "1.0" and embed["type"] == "rich"
    assert embed["title"] == "Election night"
    assert (embed["width"], embed["height"]) == (640, 800)
    assert embed["html"] == (
        f'<iframe src="{BASE}/blogs/election-night" width="640" height="800" '
        'title="Election night" loading="lazy" style="border:0;max-width:100%"></iframe>'
    )

    entry_page = (await client.get(f"/blogs/election-night/entries/{entry_id}")).text
    answer = await client.get(discovery(entry_page) + "&maxwidth=400&maxheight=300")
    embed = answer.json()
    assert embed["title"] == "Polls close <now>"
    assert (embed["width"], embed["height"]) == (400, 300)
    assert f'src="{BASE}/blogs/election-night/entries/{entry_id}"' in embed["html"]
    assert 'title="Polls close &lt;now&gt;"' in embed["html"]  # escaped, never markup


async def test_other_addresses_are_not_embedded(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    draft = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "Not yet", "status": "draft"},
        headers=tokens.auth("editor"),
    )
    for url in [
        "https://elsewhere.example/blogs/election-night",
        f"{BASE}/blogs/no-such-blog",
        f"{BASE}/blogs/election-night/entries/999999",
        f"{BASE}/blogs/election-night/entries/{draft.json()['id']}",
        f"{BASE}/api/blogs/election-night",
        "javascript://testserver/blogs/election-night",
        "not a url",
    ]:
        answer = await client.get("/oembed", params={"url": url})
        assert answer.status_code == 404, url
        assert "detail" in answer.json()
    xml = await client.get(
        "/oembed", params={"url": f"{BASE}/blogs/election-night", "format": "xml"}
    )
    assert xml.status_code == 501
    assert (await client.get("/oembed")).status_code == 422
    assert (await client.get("/oembed", params={"url": "x", "maxwidth": 0})).status_code == 422
