import httpx
import pytest
from sqlalchemy import select

from app.domain.models import Event
from app.store.db import Database
from tests.conftest import Tokens


async def test_create_blog(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.post(
        "/api/blogs",
        json={"slug": "storm-2026", "title": "  Storm  ", "timezone": "Europe/Paris"},
        headers=tokens.auth("admin"),
    )
    assert response.status_code == 201
    blog = response.json()
    assert blog["slug"] == "storm-2026"
    assert blog["title"] == "Storm"
    assert blog["description"] == ""
    assert blog["notice"] is None
    assert blog["status"] == "live"
    assert blog["timezone"] == "Europe/Paris"
    assert blog["offset"] == 0
    assert blog["ended_at"] is None
    assert blog["created_at"].endswith("Z")
    assert (await client.get("/api/blogs/storm-2026")).json() == blog


async def test_duplicate_slug_is_409(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    response = await client.post(
        "/api/blogs", json={"slug": blog["slug"], "title": "Again"}, headers=tokens.auth("admin")
    )
    assert response.status_code == 409
    assert "exists" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"slug": "Has-Capitals", "title": "x"},
        {"slug": "has space", "title": "x"},
        {"slug": "../etc", "title": "x"},
        {"slug": "-leading", "title": "x"},
        {"slug": "a" * 65, "title": "x"},
        {"slug": "ok", "title": ""},
        {"slug": "ok", "title": "   "},
        {"slug": "ok"},
        {"slug": "ok", "title": "x" * 201},
        {"slug": "ok", "title": "x", "timezone": "Mars/Olympus"},
        {"slug": "ok", "title": "x", "timezone": "../../etc/passwd"},
        {"slug": "ok", "title": "x\x00y"},
        {"slug": "ok", "title": "x", "surprise": 1},
        {"slug": 5, "title": "x"},
    ],
)
async def test_bad_blog_input_is_422(
    client: httpx.AsyncClient, tokens: Tokens, payload: dict[str, object]
) -> None:
    response = await client.post("/api/blogs", json=payload, headers=tokens.auth("admin"))
    assert response.status_code == 422
    assert "detail" in response.json()
    assert (await client.get("/api/blogs")).json() == {"blogs": []}


async def test_a_nul_in_an_address_is_refused_not_a_fault(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    # Postgres's text holds no NUL: the lookup it refuses is the request's fault (422);
    # SQLite finds nothing (404) or filters to nothing. Never a 500, and nothing changes.
    slug = blog["slug"]
    for url in [
        "/blogs/%00", "/blogs/%00/entries/1", "/blogs/%00/search?q=a", "/api/blogs/%00",
        "/api/blogs/%00/entries", "/api/blogs/%00/tags", "/api/blogs/%00/polls",
        "/api/blogs/%00/questions", f"/blogs/{slug}?tag=%00",
        f"/api/blogs/{slug}/entries?tag=%00",
    ]:  # fmt: skip
        answer = await client.get(url, headers=tokens.auth("admin"))
        assert answer.status_code in (200, 404, 422), (url, answer.status_code)
    posted = await client.post(
        "/api/blogs/%00/entries", json={"body": "x"}, headers=tokens.auth("editor")
    )
    assert posted.status_code in (404, 422)
    assert (await client.get("/api/blogs")).json()["blogs"][0]["offset"] == 0


async def test_malformed_json_is_422(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.post(
        "/api/blogs",
        content=b'{"slug": "x", ',
        headers={**tokens.auth("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(("role", "code"), [("editor", 403), ("reporter", 403)])
async def test_only_admins_create_blogs(
    client: httpx.AsyncClient, tokens: Tokens, role: str, code: int
) -> None:
    response = await client.post(
        "/api/blogs", json={"slug": "x", "title": "x"}, headers=tokens.auth(role)
    )
    assert response.status_code == code


async def test_list_puts_live_blogs_first(client: httpx.AsyncClient, tokens: Tokens) -> None:
    for slug in ("first", "second", "third"):
        response = await client.post(
            "/api/blogs", json={"slug": slug, "title": slug}, headers=tokens.auth("admin")
        )
        assert response.status_code == 201
    response = await client.patch(
        "/api/blogs/third", json={"status": "ended"}, headers=tokens.auth("admin")
    )
    assert response.status_code == 200
    slugs = [b["slug"] for b in (await client.get("/api/blogs")).json()["blogs"]]
    assert slugs == ["second", "first", "third"]


async def test_unknown_blog_is_404(client: httpx.AsyncClient, tokens: Tokens) -> None:
    assert (await client.get("/api/blogs/nope")).status_code == 404
    response = await client.patch(
        "/api/blogs/nope", json={"title": "x"}, headers=tokens.auth("admin")
    )
    assert response.status_code == 404


async def test_patch_logs_one_event_per_change(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    url = f"/api/blogs/{blog['slug']}"
    admin = tokens.auth("admin")

    changed = (
        await client.patch(url, json={"notice": "Polls close at 10pm"}, headers=admin)
    ).json()
    assert changed["notice"] == "Polls close at 10pm"
    assert changed["offset"] == 1

    same = await client.patch(url, json={"notice": "Polls close at 10pm"}, headers=admin)
    assert same.status_code == 200
    assert same.json()["offset"] == 1

    ended = (await client.patch(url, json={"status": "ended"}, headers=admin)).json()
    assert ended["status"] == "ended"
    assert ended["ended_at"] is not None
    assert ended["offset"] == 2

    reopened = (
        await client.patch(url, json={"status": "live", "notice": ""}, headers=admin)
    ).json()
    assert reopened["status"] == "live"
    assert reopened["ended_at"] is None
    assert reopened["notice"] is None
    assert reopened["offset"] == 3

    async with db.read() as session:
        events = (await session.scalars(select(Event).order_by(Event.offset))).all()  # type: ignore[arg-type]
    assert [(e.offset, e.type) for e in events] == [
        (1, "blog.updated"),
        (2, "blog.updated"),
        (3, "blog.updated"),
    ]
    assert '"status":"ended"' in events[1].data


@pytest.mark.parametrize(
    "payload", [{"title": None}, {"title": ""}, {"status": "paused"}, {"offset": 5}]
)
async def test_bad_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], payload: dict[str, object]
) -> None:
    url = f"/api/blogs/{blog['slug']}"
    response = await client.patch(url, json=payload, headers=tokens.auth("admin"))
    assert response.status_code == 422
    assert (await client.get(url)).json() == blog


async def test_only_admins_patch_blogs(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    url = f"/api/blogs/{blog['slug']}"
    for role in ("editor", "reporter"):
        response = await client.patch(url, json={"title": "x"}, headers=tokens.auth(role))
        assert response.status_code == 403
    assert (await client.patch(url, json={"title": "x"})).status_code == 401


async def test_posting_to_an_ended_blog_is_409(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    url = f"/api/blogs/{blog['slug']}"
    await client.patch(url, json={"status": "ended"}, headers=tokens.auth("admin"))
    response = await client.post(
        f"{url}/entries", json={"body": "late"}, headers=tokens.auth("editor")
    )
    assert response.status_code == 409
    assert (await client.get(url)).json()["offset"] == 1
    assert (await client.get(f"{url}/entries")).json()["entries"] == []
