"""Readers' questions: sent by anyone to a blog that takes them (JSON, or the page's form
without JavaScript), bounded and limited, pushed live to the newsroom's desk, answered in
an entry that quotes them as text, or dismissed. Refused input stores nothing."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.domain.models import Entry, Question
from app.services import services
from app.store.db import Database
from app.store.rate_limits import RateLimit
from tests.conftest import StartServer, Tokens

ASK = {"question": "When do the polls close?", "name": "Ann"}


async def open_questions(client: httpx.AsyncClient, tokens: Tokens) -> list[dict[str, object]]:
    answer = await client.get(
        "/api/blogs/election-night/questions", headers=tokens.auth("reporter")
    )
    assert answer.status_code == 200
    return list(answer.json()["questions"])


async def stored(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Question)) or 0)


@pytest.fixture
async def asking(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> dict[str, object]:
    """The blog, taking questions."""
    answer = await client.patch(
        f"/api/blogs/{blog['slug']}", json={"accepts_questions": True}, headers=tokens.auth("admin")
    )
    assert answer.status_code == 200 and answer.json()["accepts_questions"] is True
    return dict(answer.json())


async def test_a_blog_takes_no_questions_until_an_admin_says_so(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    assert blog["accepts_questions"] is False
    refused = await client.post("/api/blogs/election-night/questions", json=ASK)
    assert refused.status_code == 403
    page = (await client.get("/blogs/election-night")).text
    assert '<details class="ask" data-ask hidden>' in page
    assert await stored(db) == 0


async def test_a_question_reaches_the_newsroom_never_the_readers(
    client: httpx.AsyncClient, tokens: Tokens, asking: dict[str, object], db: Database
) -> None:
    page = (await client.get("/blogs/election-night")).text
    assert '<details class="ask" data-ask>' in page
    assert 'action="/blogs/election-night/questions"' in page
    sent = await client.post("/api/blogs/election-night/questions", json=ASK)
    assert sent.status_code == 201
    assert sent.json()["question"] == ASK["question"] and sent.json()["name"] == "Ann"
    [waiting] = await open_questions(client, tokens)
    assert waiting["question"] == ASK["question"]
    # Not the readers': no event, nothing in the page, the feed or the API's entries.
    assert (await client.get("/api/blogs/election-night")).json()["offset"] == asking["offset"]
    assert ASK["question"] not in (await client.get("/blogs/election-night")).text
    for role, code in (("contributor", 403), (None, 401)):
        headers = tokens.auth(role) if role else {}
        listed = await client.get("/api/blogs/election-night/questions", headers=headers)
        assert listed.status_code == code


@pytest.mark.parametrize(
    "sent",
    [
        {**ASK, "question": "q" * 501},
        {**ASK, "question": "   "},
        {**ASK, "name": ""},
        {**ASK, "name": "n" * 61},
        {**ASK, "question": "nul \x00"},
        {**ASK, "website": "http://spam.example"},  # the honeypot
        {**ASK, "email": "who@example.org"},
        {"question": "no name"},
    ],
)
async def test_bad_questions_are_refused_and_store_nothing(
    client: httpx.AsyncClient, asking: dict[str, object], db: Database, sent: dict[str, object]
) -> None:
    answer = await client.post("/api/blogs/election-night/questions", json=sent)
    assert answer.status_code == 422
    assert "detail" in answer.json()
    assert await stored(db) == 0


async def test_questions_are_limited_per_address_and_per_blog(
    app: FastAPI, client: httpx.AsyncClient, asking: dict[str, object], db: Database
) -> None:
    parts = services(app)
    app.state.services = dataclasses.replace(
        parts, questions_per_address=RateLimit(per_minute=1, burst=2)
    )
    for _ in range(2):
        assert (
            await client.post("/api/blogs/election-night/questions", json=ASK)
        ).status_code == 201
    limited = await client.post("/api/blogs/election-night/questions", json=ASK)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert await stored(db) == 2
    app.state.services = dataclasses.replace(
        parts, questions_per_blog=RateLimit(per_minute=1, burst=1)
    )
    assert (await client.post("/api/blogs/election-night/questions", json=ASK)).status_code == 201
    assert (await client.post("/api/blogs/election-night/questions", json=ASK)).status_code == 429
    assert await stored(db) == 3


async def test_answering_publishes_an_entry_quoting_the_question_as_text(
    client: httpx.AsyncClient, tokens: Tokens, asking: dict[str, object], db: Database
) -> None:
    hostile = {"question": "Is it *over*? <script>alert(1)</script>\n\n[x](javascript:alert(1))",
               "name": "<b>Bob</b>"}  # fmt: skip
    question = (await client.post("/api/blogs/election-night/questions", json=hostile)).json()
    answer = await client.post(
        f"/api/blogs/election-night/questions/{question['id']}/answer",
        json={"answer": "Not **yet**: counting goes on.", "headline": "Is it over?"},
        headers=tokens.auth("reporter"),
    )
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["status"] == "published" and entry["headline"] == "Is it over?"
    assert entry["html"] == (
        "<blockquote>\n<p>Is it *over*? &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
        "<p>[x](javascript:alert(1))</p>\n<p>— &lt;b&gt;Bob&lt;/b&gt;</p>\n</blockquote>\n"
        "<p>Not <strong>yet</strong>: counting goes on.</p>"
    )
    assert await open_questions(client, tokens) == []
    page = (await client.get("/blogs/election-night")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    # Answered once: it is gone.
    again = await client.post(
        f"/api/blogs/election-night/questions/{question['id']}/answer",
        json={"answer": "Twice?"},
        headers=tokens.auth("editor"),
    )
    assert again.status_code == 404
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 1


async def test_dismissing_removes_a_question_and_who_may(
    client: httpx.AsyncClient, tokens: Tokens, asking: dict[str, object], db: Database
) -> None:
    question = (await client.post("/api/blogs/election-night/questions", json=ASK)).json()
    url = f"/api/blogs/election-night/questions/{question['id']}"
    assert (await client.delete(url, headers=tokens.auth("contributor"))).status_code == 403
    answer = await client.post(
        f"{url}/answer", json={"answer": "No"}, headers=tokens.auth("contributor")
    )
    assert answer.status_code == 403
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=tokens.auth("editor"))).status_code == 204
    assert await stored(db) == 0
    assert (await client.delete(url, headers=tokens.auth("editor"))).status_code == 404


async def test_an_ended_blog_takes_no_more_questions(
    client: httpx.AsyncClient, tokens: Tokens, asking: dict[str, object], db: Database
) -> None:
    await client.patch(
        "/api/blogs/election-night", json={"status": "ended"}, headers=tokens.auth("admin")
    )
    assert (await client.post("/api/blogs/election-night/questions", json=ASK)).status_code == 409
    assert (
        '<details class="ask" data-ask hidden>' in (await client.get("/blogs/election-night")).text
    )
    assert await stored(db) == 0


async def test_the_form_works_without_javascript(
    client: httpx.AsyncClient, tokens: Tokens, asking: dict[str, object], db: Database
) -> None:
    sent = await client.post("/blogs/election-night/questions", data=ASK)
    assert sent.status_code == 201
    assert "the newsroom has your question" in sent.text
    assert 'href="/blogs/election-night"' in sent.text
    bot = await client.post("/blogs/election-night/questions", data={**ASK, "website": "x"})
    assert bot.status_code == 422 and "check your question" in bot.text
    empty = await client.post("/blogs/election-night/questions", data={"name": "Ann"})
    assert empty.status_code == 422
    assert await stored(db) == 1
    await client.patch(
        "/api/blogs/election-night", json={"language": "ru"}, headers=tokens.auth("admin")
    )
    thanks = await client.post("/blogs/election-night/questions", data=ASK)
    assert thanks.status_code == 201 and "Спасибо" in thanks.text
    nowhere = await client.post("/blogs/nowhere/questions", data=ASK)
    assert nowhere.status_code == 404


async def desk_events(url: str, token: str, found: list[dict[str, object]]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}"}
        async with client.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    found.append(orjson.loads(line[6:]))


async def until(found: list[dict[str, object]], count: int) -> None:
    for _ in range(200):
        if len(found) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"desk events: {found}")


@pytest.fixture
async def desk_server(start_server: StartServer, tokens: Tokens) -> AsyncIterator[str]:
    server = await start_server()
    async with httpx.AsyncClient(base_url=server.url) as client:
        made = await client.post(
            "/api/blogs", json={"slug": "desk", "title": "Desk"}, headers=tokens.auth("admin")
        )
        assert made.status_code == 201
        await client.patch(
            "/api/blogs/desk", json={"accepts_questions": True}, headers=tokens.auth("admin")
        )
    yield server.url


async def test_the_desk_is_told_at_once(desk_server: str, tokens: Tokens) -> None:
    async with httpx.AsyncClient(base_url=desk_server, timeout=30) as client:
        first = (await client.post("/api/blogs/desk/questions", json=ASK)).json()
        found: list[dict[str, object]] = []
        listening = asyncio.create_task(
            desk_events(f"{desk_server}/api/blogs/desk/desk", tokens.reporter, found)
        )
        await until(found, 1)
        assert found[0] == {"type": "questions", "questions": [first]}
        second = (await client.post("/api/blogs/desk/questions", json={**ASK, "name": "Bo"})).json()
        await until(found, 2)
        assert found[1] == {"type": "question.asked", "question": second}
        answered = await client.post(
            f"/api/blogs/desk/questions/{first['id']}/answer",
            json={"answer": "At ten."},
            headers=tokens.auth("editor"),
        )
        await until(found, 3)
        assert found[2] == {
            "type": "question.closed", "question_id": first["id"], "entry_id": answered.json()["id"]
        }  # fmt: skip
        await client.delete(
            f"/api/blogs/desk/questions/{second['id']}", headers=tokens.auth("editor")
        )
        await until(found, 4)
        assert found[3] == {
            "type": "question.closed",
            "question_id": second["id"],
            "entry_id": None,
        }
        listening.cancel()
        for role, code in (("contributor", 403), (None, 401)):
            headers = tokens.auth(role) if role else {}
            refused = await client.get("/api/blogs/desk/desk", headers=headers)
            assert refused.status_code == code
