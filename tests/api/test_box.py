"""A blog's results box: kept by the newsroom's staff, pushed to readers as the blog's state
(a `blog.updated` event, and the `hello` of every reader that joins), shown by the page
without JavaScript and in its JSON-LD. Bad input is refused and changes nothing."""

import json
import re

import httpx
import pytest

from tests.conftest import LiveServer, Tokens
from tests.live.test_joining import Api, api, events_until, reader, server  # noqa: F401 (fixtures)

SCORE = {
    "kind": "score",
    "title": "Premier League",
    "rows": [{"label": "Arsenal", "value": "2"}, {"label": "Chelsea", "value": "1"}],
    "note": "Half time",
}
SEATS = {
    "kind": "rows",
    "title": "Seats declared",
    "rows": [{"label": "Labour", "value": "326"}, {"label": "Conservative", "value": "121"}],
}


async def _blog(client: httpx.AsyncClient, slug: str) -> dict[str, object]:
    answer = await client.get(f"/api/blogs/{slug}")
    assert answer.status_code == 200
    return dict(answer.json())


def _jsonld(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


async def test_the_staff_set_a_box_readers_see_it_at_once_and_in_the_page(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    slug = blog["slug"]
    page = (await client.get(f"/blogs/{slug}")).text
    assert 'data-box aria-label="Results" hidden' in page
    answer = await client.put(f"/api/blogs/{slug}/box", json=SCORE, headers=tokens.auth("reporter"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["box"] == SCORE
    assert answer.json()["offset"] == blog["offset"] + 1  # type: ignore[operator]
    assert (await _blog(client, str(slug)))["box"] == SCORE

    page = (await client.get(f"/blogs/{slug}")).text
    assert (
        '<p class="score"><span class="side">Arsenal</span><span class="points">2</span>'
        '<span class="dash">–</span><span class="points">1</span>'
        '<span class="side">Chelsea</span></p>'
    ) in page
    assert '<p class="box-note">Half time</p>' in page
    assert _jsonld(page)["hasPart"] == {
        "@type": "WebPageElement",
        "cssSelector": ".results-box",
        "name": "Premier League",
        "text": "Arsenal 2 – 1 Chelsea (Half time)",
    }

    # The same box again changes nothing: no event.
    again = await client.put(f"/api/blogs/{slug}/box", json=SCORE, headers=tokens.auth("editor"))
    assert again.status_code == 200 and again.json()["offset"] == answer.json()["offset"]

    rows = await client.put(f"/api/blogs/{slug}/box", json=SEATS, headers=tokens.auth("admin"))
    assert rows.json()["box"] == {**SEATS, "note": ""}
    page = (await client.get(f"/blogs/{slug}")).text
    assert '<tr><th scope="row">Labour</th><td>326</td></tr>' in page
    assert _jsonld(page)["hasPart"]["text"] == "Labour: 326; Conservative: 121"  # type: ignore[index]

    gone = await client.delete(f"/api/blogs/{slug}/box", headers=tokens.auth("reporter"))
    assert gone.status_code == 204
    assert (await _blog(client, str(slug)))["box"] is None
    assert "hasPart" not in _jsonld((await client.get(f"/blogs/{slug}")).text)


@pytest.mark.parametrize(
    "box",
    [
        {**SCORE, "rows": SCORE["rows"] * 2},  # a score of four sides
        {**SEATS, "rows": [{"label": "x", "value": "1"}] * 21},
        {**SEATS, "rows": []},
        {**SEATS, "rows": [{"label": "   ", "value": "1"}]},
        {**SEATS, "rows": [{"label": "x" * 101, "value": "1"}]},
        {**SEATS, "rows": [{"label": "x", "value": "1" * 41}]},
        {**SEATS, "title": "t" * 101},
        {**SEATS, "note": "n" * 201},
        {**SEATS, "note": "nul\x00"},
        {**SEATS, "kind": "table"},
        {**SEATS, "colour": "red"},
        {"kind": "rows"},
    ],
)
async def test_a_bad_box_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], box: dict[str, object]
) -> None:
    slug = blog["slug"]
    await client.put(f"/api/blogs/{slug}/box", json=SCORE, headers=tokens.auth("editor"))
    before = await _blog(client, str(slug))
    answer = await client.put(f"/api/blogs/{slug}/box", json=box, headers=tokens.auth("editor"))
    assert answer.status_code == 422
    assert await _blog(client, str(slug)) == before


async def test_who_may_keep_the_box(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    slug = blog["slug"]
    for role, code in (("contributor", 403), (None, 401)):
        headers = tokens.auth(role) if role else {}
        assert (
            await client.put(f"/api/blogs/{slug}/box", json=SCORE, headers=headers)
        ).status_code == code
        assert (await client.delete(f"/api/blogs/{slug}/box", headers=headers)).status_code == code
    assert (await _blog(client, str(slug)))["box"] is None
    missing = await client.put("/api/blogs/nope/box", json=SCORE, headers=tokens.auth("editor"))
    assert missing.status_code == 404


async def test_html_in_a_box_is_text(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    slug = blog["slug"]
    row = {"label": "<img src=x onerror=alert(1)>", "value": "<b>1</b>"}
    hostile = {"kind": "rows", "title": "<script>alert(1)</script>", "rows": [row]}
    answer = await client.put(f"/api/blogs/{slug}/box", json=hostile, headers=tokens.auth("editor"))
    assert answer.status_code == 200
    page = (await client.get(f"/blogs/{slug}")).text
    assert "<img src=x" not in page and "<b>1</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;1&lt;/b&gt;" in page


async def test_readers_get_the_box_as_the_blogs_state(api: Api, server: LiveServer) -> None:  # noqa: F811
    assert (await api.client.put("/api/blogs/live/box", json=SCORE,
                                 headers=api.tokens.auth("editor"))).status_code == 200  # fmt: skip
    async with reader(server, "") as socket:
        hello = await socket.next()
        assert hello["type"] == "hello" and hello["blog"]["box"] == SCORE
        later = {**SCORE, "rows": [{"label": "Arsenal", "value": "3"}, SCORE["rows"][1]]}
        changed = await api.client.put("/api/blogs/live/box", json=later,
                                       headers=api.tokens.auth("reporter"))  # fmt: skip
        [event] = await events_until(socket, changed.json()["offset"])
        assert event["type"] == "blog.updated" and event["blog"]["box"] == later
    async with reader(server, "") as socket:
        assert (await socket.next())["blog"]["box"] == later  # the latest, at once
