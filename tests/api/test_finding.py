"""Tags, filters and search, on both databases: what the API finds, and that it follows
every edit and delete in the same transaction as the change."""

import httpx
import pytest
from sqlalchemy import text

from app.cli.migrate import complete_index
from app.config import Settings
from app.store.db import Database
from tests.conftest import Tokens

Blog = dict[str, object]


async def post(
    client: httpx.AsyncClient, slug: str, headers: dict[str, str], **payload: object
) -> dict[str, object]:
    response = await client.post(f"/api/blogs/{slug}/entries", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    entry: dict[str, object] = response.json()
    return entry


async def listed(client: httpx.AsyncClient, slug: str, **params: object) -> list[object]:
    response = await client.get(f"/api/blogs/{slug}/entries", params=params)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["entries"]]


async def found(client: httpx.AsyncClient, url: str, q: str, **params: object) -> dict:
    response = await client.get(url, params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def make_blog(client: httpx.AsyncClient, tokens: Tokens, slug: str, language: str) -> str:
    response = await client.post(
        "/api/blogs",
        json={"slug": slug, "title": slug, "language": language},
        headers=tokens.auth("admin"),
    )
    assert response.status_code == 201, response.text
    return slug


async def test_tags_given_and_hashtags(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    slug = str(blog["slug"])
    entry = await post(
        client, slug, tokens.auth("reporter"),
        body="Shelling near #Kharkiv again; see [the map](https://example.com/#Map). C# no.",
        tags=["#Energy", "kharkiv", "Power-grid"],
    )  # fmt: skip
    assert entry["tags"] == ["energy", "kharkiv", "power-grid"]
    plain = await post(client, slug, tokens.auth("reporter"), body="Quiet #night_shift")
    assert plain["tags"] == ["night_shift"]

    # An edit of the text keeps the given tags and takes its hashtags anew.
    url = f"/api/blogs/{slug}/entries/{entry['id']}"
    edited = await client.patch(url, json={"body": "Now in #Odesa"}, headers=tokens.auth("editor"))
    assert edited.json()["tags"] == ["energy", "kharkiv", "power-grid", "odesa"]
    assert edited.json()["version"] == 2
    # Tags given in an edit replace those given before.
    retagged = await client.patch(url, json={"tags": ["grid"]}, headers=tokens.auth("editor"))
    assert retagged.json()["tags"] == ["grid", "odesa"]
    assert retagged.json()["updated_at"] == edited.json()["updated_at"]  # text unchanged


@pytest.mark.parametrize(
    "tags",
    [["a b"], ["-lead"], ["x" * 41], ["ok"] * 11, [""], ["#"], "kharkiv", [3]],
)
async def test_bad_tags_are_refused(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, tags: object
) -> None:
    response = await client.post(
        f"/api/blogs/{blog['slug']}/entries",
        json={"body": "Text", "tags": tags},
        headers=tokens.auth("reporter"),
    )
    assert response.status_code == 422, response.text
    assert await listed(client, str(blog["slug"])) == []


async def test_hashtags_fill_up_to_the_limit(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    body = " ".join(f"#t{n}x" for n in range(12))
    entry = await post(client, str(blog["slug"]), tokens.auth("reporter"), body=body, tags=["a"])
    assert entry["tags"] == ["a", *(f"t{n}x" for n in range(9))]


async def test_filters_and_the_blogs_tags(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    slug = str(blog["slug"])
    staff = tokens.auth("editor")
    a = await post(client, slug, staff, body="#kharkiv one")
    b = await post(client, slug, staff, body="#kharkiv #odesa two", key_event=True)
    c = await post(client, slug, staff, body="#odesa three")
    draft = await post(client, slug, staff, body="#kharkiv draft", status="draft")

    assert await listed(client, slug, tag="kharkiv") == [b["id"], a["id"]]
    assert await listed(client, slug, tag="#Kharkiv") == [b["id"], a["id"]]
    assert await listed(client, slug, key_events="true") == [b["id"]]
    assert await listed(client, slug, tag="odesa", key_events="true") == [b["id"]]
    assert await listed(client, slug, tag="lviv") == []
    page = await client.get(f"/api/blogs/{slug}/entries", params={"tag": "kharkiv", "limit": 1})
    more = page.json()["next"]
    assert await listed(client, slug, tag="kharkiv", before=more) == [a["id"]]
    tags = (await client.get(f"/api/blogs/{slug}/tags")).json()["tags"]
    assert tags == [{"tag": "kharkiv", "entries": 2}, {"tag": "odesa", "entries": 2}]

    # Edits move entries in and out; a deleted entry leaves; a draft counts once out.
    url = f"/api/blogs/{slug}/entries"
    await client.patch(f"{url}/{c['id']}", json={"tags": ["kharkiv"]}, headers=staff)
    await client.patch(f"{url}/{a['id']}", json={"body": "one, untagged"}, headers=staff)
    assert await listed(client, slug, tag="kharkiv") == [c["id"], b["id"]]
    await client.delete(f"{url}/{b['id']}", headers=staff)
    await client.patch(f"{url}/{draft['id']}", json={"status": "published"}, headers=staff)
    assert await listed(client, slug, tag="kharkiv") == [draft["id"], c["id"]]
    tags = (await client.get(f"/api/blogs/{slug}/tags")).json()["tags"]
    assert tags == [{"tag": "kharkiv", "entries": 2}, {"tag": "odesa", "entries": 1}]


async def test_search_within_a_blog(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    slug = str(blog["slug"])
    staff = tokens.auth("editor")
    url = f"/api/blogs/{slug}/search"
    power = await post(
        client, slug, staff, headline="Power plants hit",
        body="Two power plants near <b>Kharkiv</b> were struck overnight, officials said.",
    )  # fmt: skip
    grid = await post(client, slug, staff, body="The grid operator restored power to the city.")
    await post(client, slug, staff, body="Rumours of a ceasefire were denied.")
    await post(client, slug, staff, body="A hidden plant", status="draft")

    result = await found(client, url, "plant")  # stemmed: "plants" matches
    assert [r["entry"]["id"] for r in result["results"]] == [power["id"]]
    assert "<mark>plants</mark>" in result["results"][0]["snippet"]
    # Text, escaped: the raw HTML the reporter typed shows as typed, as on the page.
    assert "near &lt;b&gt;Kharkiv&lt;/b&gt; were" in result["results"][0]["snippet"]
    assert result["results"][0]["snippet"].endswith("officials said.")
    # The headline outranks the body; then newest first.
    assert [r["entry"]["id"] for r in (await found(client, url, "power"))["results"]] == [
        power["id"], grid["id"],
    ]  # fmt: skip
    assert (await found(client, url, '"power plants"'))["results"][0]["entry"]["id"] == power["id"]
    assert [r["entry"]["id"] for r in (await found(client, url, "power -grid"))["results"]] == [
        power["id"]
    ]
    either = await found(client, url, "ceasefire OR operator")
    assert len(either["results"]) == 2
    assert (await found(client, url, "nothing-like-it"))["results"] == []
    assert (await found(client, url, '"" -'))["results"] == []

    # Paged.
    first = await found(client, url, "power", limit=1)
    assert first["next_page"] == 2
    second = await found(client, url, "power", limit=1, page=2)
    assert [r["entry"]["id"] for r in second["results"]] == [grid["id"]]
    assert second["next_page"] is None

    # Edits and deletes are searched as they are, at once.
    entries = f"/api/blogs/{slug}/entries"
    await client.patch(f"{entries}/{grid['id']}", json={"body": "Water is back."}, headers=staff)
    assert [r["entry"]["id"] for r in (await found(client, url, "power"))["results"]] == [
        power["id"]
    ]
    assert (await found(client, url, "water"))["results"][0]["entry"]["id"] == grid["id"]
    await client.delete(f"{entries}/{power['id']}", headers=staff)
    assert (await found(client, url, "power"))["results"] == []


async def test_search_stems_each_blogs_language(client: httpx.AsyncClient, tokens: Tokens) -> None:
    staff = tokens.auth("editor")
    ru = await make_blog(client, tokens, "vybory", "ru")
    ar = await make_blog(client, tokens, "intikhabat", "ar")
    en = await make_blog(client, tokens, "elections", "en")
    russian = await post(client, ru, staff, body="Итоги выборов в Харькове объявлены.")
    arabic = await post(client, ar, staff, body="أُعلنت نتائجُ الانتخابات الرئاسيّة.")
    english = await post(client, en, staff, body="Election results are in.")

    def ids(result: dict) -> list[object]:
        return [r["entry"]["id"] for r in result["results"]]

    assert ids(await found(client, f"/api/blogs/{ru}/search", "выборы")) == [russian["id"]]
    hit = await found(client, f"/api/blogs/{ru}/search", "итогов")
    assert "<mark>Итоги</mark>" in hit["results"][0]["snippet"]
    # Arabic: marks and letter forms folded, then stemmed.
    arabic_hit = await found(client, f"/api/blogs/{ar}/search", "نتائج الانتخابات الرئاسية")
    assert ids(arabic_hit) == [arabic["id"]]
    assert "<mark>" in arabic_hit["results"][0]["snippet"]
    assert ids(await found(client, f"/api/blogs/{en}/search", "elections")) == [english["id"]]
    # Across blogs: each blog's entries in its own language.
    assert ids(await found(client, "/api/search", "выбор")) == [russian["id"]]
    assert ids(await found(client, "/api/search", "election")) == [english["id"]]
    everywhere = await found(client, "/api/search", "выборы OR elections")
    assert sorted(ids(everywhere)) == sorted([russian["id"], english["id"]])  # type: ignore[type-var]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "page": 0},
                                    {"q": "a", "page": 51}, {"q": "a", "limit": 51}])  # fmt: skip
async def test_bad_searches_are_refused(
    client: httpx.AsyncClient, blog: Blog, params: dict[str, object]
) -> None:
    for url in (f"/api/blogs/{blog['slug']}/search", "/api/search"):
        assert (await client.get(url, params=params)).status_code == 422


async def test_a_query_is_never_fts_syntax(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    slug = str(blog["slug"])
    await post(client, slug, tokens.auth("editor"), body="NEAR the plant AND a star*")
    for q in ["NEAR(plant star)", "body:plant", "plant*", '"unclosed', "AND", "^plant", "'; --"]:
        response = await client.get(f"/api/blogs/{slug}/search", params={"q": q})
        assert response.status_code == 200, (q, response.text)


async def test_an_index_made_later_is_completed_by_migrate(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database, settings: Settings
) -> None:
    """Entries published before the index (version 0014) are indexed by `migrate`."""
    slug = str(blog["slug"])
    entry = await post(client, slug, tokens.auth("editor"), body="An old report on #turnout")
    async with db.write() as session:
        await session.execute(text("DELETE FROM entrysearch"))
    url = f"/api/blogs/{slug}/search"
    assert (await found(client, url, "report"))["results"] == []
    assert await complete_index(settings) == 1
    assert (await found(client, url, "report"))["results"][0]["entry"]["id"] == entry["id"]
    assert await complete_index(settings) == 0
