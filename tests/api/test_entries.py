import asyncio
import dataclasses

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.domain.models import Entry, Event
from app.services import services
from app.store.db import Database
from tests.conftest import Tokens

Blog = dict[str, object]


def entries_url(blog: Blog) -> str:
    return f"/api/blogs/{blog['slug']}/entries"


async def post(
    client: httpx.AsyncClient, blog: Blog, headers: dict[str, str], **payload: object
) -> httpx.Response:
    return await client.post(entries_url(blog), json=payload, headers=headers)


async def count_entries(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Entry)) or 0)


async def test_create_entry(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    response = await post(
        client,
        blog,
        tokens.auth("reporter"),
        headline="Turnout is up",
        body="Turnout is **up** on 2022.\n\n> A record.",
        key_event=True,
    )
    assert response.status_code == 201
    entry = response.json()
    assert entry["blog"] == blog["slug"]
    assert entry["headline"] == "Turnout is up"
    assert entry["html"] == (
        "<p>Turnout is <strong>up</strong> on 2022.</p>\n"
        "<blockquote>\n<p>A record.</p>\n</blockquote>"
    )
    assert entry["key_event"] is True
    assert entry["pinned"] is False
    assert entry["author"] == "Rita Reporter"
    assert entry["updated_at"] is None
    assert entry["version"] == 1
    assert response.headers["location"] == f"{entries_url(blog)}/{entry['id']}"
    assert (await client.get(f"{entries_url(blog)}/{entry['id']}")).json() == entry
    assert (await client.get(f"/api/blogs/{blog['slug']}")).json()["offset"] == 1


async def test_entry_on_unknown_blog_is_404(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.post(
        "/api/blogs/nope/entries", json={"body": "x"}, headers=tokens.auth("editor")
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body": ""},
        {"body": "  \n\t "},
        {"body": "x" * 20_001},
        {"body": "x", "headline": "h" * 201},
        {"body": "nul \x00 byte"},
        {"body": "x", "key_event": "very"},
        {"body": "x", "published_at": "2020-01-01T00:00:00Z"},
        {"body": ["x"]},
    ],
)
async def test_bad_entry_is_422_and_stores_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database, payload: dict[str, object]
) -> None:
    response = await client.post(entries_url(blog), json=payload, headers=tokens.auth("editor"))
    assert response.status_code == 422
    assert "detail" in response.json()
    assert await count_entries(db) == 0
    assert (await client.get(f"/api/blogs/{blog['slug']}")).json()["offset"] == 0


async def test_longest_body_is_accepted(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    response = await post(client, blog, tokens.auth("editor"), body="x" * 20_000)
    assert response.status_code == 201


async def test_oversized_request_is_413(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    big = orjson.dumps({"body": "x" * 300_000})
    response = await client.post(
        entries_url(blog),
        content=big,
        headers={**tokens.auth("editor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "detail" in response.json()

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    response = await client.post(
        entries_url(blog),
        content=chunks(),
        headers={**tokens.auth("editor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert await count_entries(db) == 0


async def test_list_is_newest_first_with_cursor(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    ids = []
    for n in range(25):
        response = await post(client, blog, tokens.auth("editor"), body=f"entry {n}")
        ids.append(response.json()["id"])
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 10}
        if cursor:
            params["before"] = cursor
        page = (await client.get(entries_url(blog), params=params)).json()
        seen += [e["id"] for e in page["entries"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"before": "!!"}, {"before": "eHl6"}]
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, blog: Blog, params: dict[str, object]
) -> None:
    response = await client.get(entries_url(blog), params=params)
    assert response.status_code == 422


async def test_entry_of_another_blog_is_404(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    other = {"slug": "other", "title": "Other"}
    await client.post("/api/blogs", json=other, headers=tokens.auth("admin"))
    entry = (await post(client, blog, tokens.auth("editor"), body="x")).json()
    assert (await client.get(f"/api/blogs/other/entries/{entry['id']}")).status_code == 404
    response = await client.patch(
        f"/api/blogs/other/entries/{entry['id']}", json={"body": "y"}, headers=tokens.auth("admin")
    )
    assert response.status_code == 404
    assert (await client.get(f"{entries_url(blog)}/{2**63}")).status_code == 422
    assert (await client.get(f"{entries_url(blog)}/0")).status_code == 422
    assert (await client.get(f"{entries_url(blog)}/999")).status_code == 404


async def test_edit_keeps_published_at(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    first = (await post(client, blog, tokens.auth("reporter"), body="Polls *open*")).json()
    url = f"{entries_url(blog)}/{first['id']}"
    await asyncio.sleep(0.01)
    response = await client.patch(
        url, json={"body": "Polls _closed_", "headline": "Closed"}, headers=tokens.auth("editor")
    )
    assert response.status_code == 200
    edited = response.json()
    assert edited["published_at"] == first["published_at"]
    assert edited["updated_at"] is not None and edited["updated_at"] > first["published_at"]
    assert edited["version"] == 2
    assert edited["html"] == "<p>Polls <em>closed</em></p>"
    assert edited["headline"] == "Closed"
    assert edited["author"] == first["author"]
    assert response.headers["etag"] == '"2"'
    assert (await client.get(url)).json() == edited


async def test_pinning_bumps_version_but_is_not_an_update(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = (await post(client, blog, tokens.auth("editor"), body="x")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    pinned = (await client.patch(url, json={"pinned": True}, headers=tokens.auth("editor"))).json()
    assert pinned["pinned"] is True
    assert pinned["version"] == 2
    assert pinned["updated_at"] is None
    unchanged = await client.patch(url, json={"pinned": True}, headers=tokens.auth("editor"))
    assert unchanged.json()["version"] == 2
    assert (await client.get(f"/api/blogs/{blog['slug']}")).json()["offset"] == 2


async def test_if_match(client: httpx.AsyncClient, tokens: Tokens, blog: Blog) -> None:
    entry = (await post(client, blog, tokens.auth("editor"), body="v1")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    editor = tokens.auth("editor")
    ok = await client.patch(url, json={"body": "v2"}, headers={**editor, "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.patch(url, json={"body": "v3"}, headers={**editor, "If-Match": "1"})
    assert stale.status_code == 412
    assert "version 2" in stale.json()["detail"]
    bad = await client.patch(url, json={"body": "v3"}, headers={**editor, "If-Match": "soon"})
    assert bad.status_code == 400
    assert (await client.get(url)).json()["body"] == "v2"
    stale_delete = await client.delete(url, headers={**editor, "If-Match": '"1"'})
    assert stale_delete.status_code == 412
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize(
    "payload", [{"body": None}, {"body": ""}, {"headline": "h" * 201}, {"version": 9}]
)
async def test_bad_edit_is_422_and_changes_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, payload: dict[str, object]
) -> None:
    entry = (await post(client, blog, tokens.auth("editor"), body="x")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    response = await client.patch(url, json=payload, headers=tokens.auth("editor"))
    assert response.status_code == 422
    assert (await client.get(url)).json() == entry


async def test_delete(client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database) -> None:
    entry = (await post(client, blog, tokens.auth("editor"), body="oops")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    response = await client.delete(url, headers=tokens.auth("editor"))
    assert response.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=tokens.auth("editor"))).status_code == 404
    async with db.read() as session:
        last = await session.scalar(select(Event).order_by(Event.offset.desc()).limit(1))  # type: ignore[attr-defined]
    assert last is not None
    assert orjson.loads(last.data) == {
        "type": "entry.deleted",
        "offset": 2,
        "entry_id": entry["id"],
    }


async def test_event_log_holds_what_the_api_returned(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    created = (await post(client, blog, tokens.auth("editor"), body="a")).json()
    url = f"{entries_url(blog)}/{created['id']}"
    updated = (await client.patch(url, json={"body": "b"}, headers=tokens.auth("editor"))).json()
    async with db.read() as session:
        events = (await session.scalars(select(Event).order_by(Event.offset))).all()  # type: ignore[arg-type]
    assert [orjson.loads(e.data) for e in events] == [
        {"type": "entry.created", "offset": 1, "entry": created},
        {"type": "entry.updated", "offset": 2, "entry": updated},
    ]


ROLE_CASES = [
    # (actor, author of the entry, expected status for edit and delete)
    ("reporter", "reporter", 200),
    ("reporter", "other_reporter", 403),
    ("reporter", "editor", 403),
    ("editor", "reporter", 200),
    ("admin", "reporter", 200),
]


@pytest.mark.parametrize(("actor", "author", "expected"), ROLE_CASES)
async def test_role_matrix_for_entries(
    client: httpx.AsyncClient,
    tokens: Tokens,
    blog: Blog,
    actor: str,
    author: str,
    expected: int,
) -> None:
    entry = (await post(client, blog, tokens.auth(author), body="x")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    edit = await client.patch(url, json={"body": "y"}, headers=tokens.auth(actor))
    assert edit.status_code == expected
    delete = await client.delete(url, headers=tokens.auth(actor))
    assert delete.status_code == (204 if expected == 200 else expected)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer lu_nope"}, {"Authorization": "Basic Zm9vOmJhcg=="}],
)
async def test_writes_need_a_valid_token(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, headers: dict[str, str]
) -> None:
    entry = (await post(client, blog, tokens.auth("editor"), body="x")).json()
    url = f"{entries_url(blog)}/{entry['id']}"
    assert (
        await client.post(entries_url(blog), json={"body": "y"}, headers=headers)
    ).status_code == 401
    assert (await client.patch(url, json={"body": "y"}, headers=headers)).status_code == 401
    assert (await client.delete(url, headers=headers)).status_code == 401
    response = await client.post(entries_url(blog), json={"body": "y"}, headers=headers)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_token_is_401(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    from datetime import UTC, datetime

    from app.domain.models import ApiToken
    from app.store.auth import hash_token

    async with db.write() as session:
        token = await session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(tokens.editor))
        )
        assert token is not None
        token.revoked_at = datetime.now(UTC)
    response = await post(client, blog, tokens.auth("editor"), body="x")
    assert response.status_code == 401


async def test_tokens_are_stored_hashed(db: Database, tokens: Tokens) -> None:
    from app.domain.models import ApiToken

    async with db.read() as session:
        stored = (await session.scalars(select(ApiToken))).all()
    plain = set(vars(tokens).values())
    assert len(stored) == len(plain) == 6
    for token in stored:
        assert token.token_hash not in plain
        assert len(token.token_hash) == 64


async def test_idempotent_retry(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    headers = {**tokens.auth("reporter"), "Idempotency-Key": "post-42"}
    first = await client.post(entries_url(blog), json={"body": "once"}, headers=headers)
    retry = await client.post(entries_url(blog), json={"body": "once"}, headers=headers)
    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await count_entries(db) == 1
    assert (await client.get(f"/api/blogs/{blog['slug']}")).json()["offset"] == 1

    reused = await client.post(entries_url(blog), json={"body": "twice"}, headers=headers)
    assert reused.status_code == 422

    # Keys belong to their token: another reporter's same key is another post.
    other = {**tokens.auth("other_reporter"), "Idempotency-Key": "post-42"}
    assert (
        await client.post(entries_url(blog), json={"body": "once"}, headers=other)
    ).status_code == 201
    assert await count_entries(db) == 2

    bad = {**tokens.auth("reporter"), "Idempotency-Key": "has space"}
    assert (
        await client.post(entries_url(blog), json={"body": "x"}, headers=bad)
    ).status_code == 400


async def test_concurrent_retries_make_one_entry(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    headers = {**tokens.auth("reporter"), "Idempotency-Key": "flaky-phone-1"}
    responses = await asyncio.gather(
        *(client.post(entries_url(blog), json={"body": "once"}, headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_entries(db) == 1


async def test_deep_or_odd_json_is_a_4xx(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    headers = {**tokens.auth("editor"), "Content-Type": "application/json"}
    for content in (b"[" * 50_000 + b"]" * 50_000, b'{"body": ' * 5000, b"\xff\xfe", b"null"):
        r = await client.post(entries_url(blog), content=content, headers=headers)
        assert 400 <= r.status_code < 500, (content[:20], r.status_code)


async def test_posts_per_token_are_rate_limited(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    from app.store.rate_limits import RateLimit

    app.state.services = dataclasses.replace(
        services(app), post_rate=RateLimit(per_minute=60, burst=3)
    )
    for n in range(3):
        assert (await post(client, blog, tokens.auth("reporter"), body=f"{n}")).status_code == 201
    limited = await post(client, blog, tokens.auth("reporter"), body="too fast")
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 1
    assert "detail" in limited.json()
    # Another token has its own allowance; nothing was stored for the refused post.
    assert (await post(client, blog, tokens.auth("editor"), body="other")).status_code == 201
    assert await count_entries(db) == 4


async def test_idempotency_keys_are_forgotten_after_their_time(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.domain.models import IdempotencyKey, now
    from app.store.idempotency import forget_expired

    headers = {**tokens.auth("reporter"), "Idempotency-Key": "wire-0001"}
    first = await client.post(entries_url(blog), json={"body": "Once"}, headers=headers)
    assert first.status_code == 201
    assert await forget_expired(db, hours=24) == 0  # fresh: a retry still gets the answer
    replay = await client.post(entries_url(blog), json={"body": "Once"}, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"

    async with db.write() as session:
        await session.execute(update(IdempotencyKey).values(created_at=now() - timedelta(hours=25)))
    assert await forget_expired(db, hours=24) == 1
    later = await client.post(entries_url(blog), json={"body": "Once"}, headers=headers)
    assert later.status_code == 201 and "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
