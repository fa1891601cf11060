"""Polls: an entry carries one; readers vote once each (a cookie) within a cap per address,
by the API or the page's form; votes are stored before they are acknowledged, counted from
the database, pushed to readers every few seconds and in their hello; closing fixes the
result. Bad input is refused and counts nothing."""

import asyncio
import dataclasses
import secrets
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.types import Receive, Scope, Send

from app.api.polls import VotesMiddleware
from app.domain.models import Vote, now
from app.live.polls import Polls
from app.services import services
from app.store.db import Database
from app.store.publishing import close_due_polls
from app.store.rate_limits import RateLimit
from tests.conftest import LiveServer, StartServer, Tokens
from tests.live.test_joining import events_until, reader

POLL = {"options": ["Yes", "No", "Not yet"]}


async def votes(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Vote)) or 0)


async def post_poll(client: httpx.AsyncClient, tokens: Tokens, **poll: object) -> dict[str, object]:
    answer = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "Will turnout pass 60%?", "poll": {**POLL, **poll}},
        headers=tokens.auth("editor"),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def voter() -> httpx.Cookies:
    return httpx.Cookies()  # a reader with no cookie yet


async def cast(client: httpx.AsyncClient, entry_id: object, option: int) -> httpx.Response:
    return await client.post(
        f"/api/blogs/election-night/entries/{entry_id}/votes", json={"option": option}
    )


async def results(client: httpx.AsyncClient) -> dict[str, object]:
    return dict((await client.get("/api/blogs/election-night/polls")).json()["polls"])


async def test_an_entry_carries_a_poll_readers_vote_once_each(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    assert entry["poll"] == {"options": POLL["options"], "closes_at": None, "closed_at": None}
    first = await cast(client, entry["id"], 0)
    assert first.status_code == 201
    assert "lu_voter=" in first.headers["set-cookie"]
    assert "httponly" in first.headers["set-cookie"].lower()
    again = await cast(client, entry["id"], 1)  # the same reader: the client kept the cookie
    assert again.status_code == 409
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as someone:
        assert (await cast(someone, entry["id"], 1)).status_code == 201
    assert await votes(db) == 2
    assert await results(client) == {
        str(entry["id"]): {"results": [1, 1, 0], "total": 2, "closed": False}
    }


@pytest.mark.parametrize(
    "poll",
    [
        {"options": ["Only one"]},
        {"options": [str(n) for n in range(7)]},
        {"options": ["Yes", "yes"]},
        {"options": ["Yes", "  "]},
        {"options": ["Yes", "n" * 101]},
        {"options": ["Yes", "No"], "closes_at": "2020-01-01T00:00:00Z"},
        {"options": ["Yes", "No"], "colour": "red"},
    ],
)
async def test_a_bad_poll_is_422_and_stores_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], poll: dict[str, object]
) -> None:
    answer = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "A poll", "poll": poll},
        headers=tokens.auth("editor"),
    )
    assert answer.status_code == 422
    listed = await client.get("/api/blogs/election-night/entries")
    assert listed.json()["entries"] == []


async def test_contributors_add_no_polls(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    answer = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "Mine", "poll": POLL},
        headers=tokens.auth("contributor"),
    )
    assert answer.status_code == 403


async def test_bad_votes_count_nothing(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    plain = await client.post(
        "/api/blogs/election-night/entries", json={"body": "No poll"}, headers=tokens.auth("editor")
    )
    draft = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "Draft poll", "poll": POLL, "status": "draft"},
        headers=tokens.auth("editor"),
    )
    assert (await cast(client, entry["id"], 3)).status_code == 422  # no fourth option
    assert (await cast(client, entry["id"], -1)).status_code == 422
    assert (await cast(client, plain.json()["id"], 0)).status_code == 409  # carries none
    assert (await cast(client, draft.json()["id"], 0)).status_code == 404
    assert (await cast(client, 999_999, 0)).status_code == 404
    bad = await client.post(
        f"/api/blogs/election-night/entries/{entry['id']}/votes", json={"option": "0; drop"}
    )
    assert bad.status_code == 422
    assert await votes(db) == 0


async def test_votes_per_address_are_capped(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    app.state.services = dataclasses.replace(
        services(app), votes_per_address=RateLimit(per_minute=1, burst=2)
    )
    codes = []
    for _ in range(3):  # three readers behind one address
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as someone:
            answer = await cast(someone, entry["id"], 0)
            codes.append(answer.status_code)
    assert codes == [201, 201, 429]
    assert int(answer.headers["retry-after"]) > 0
    assert await votes(db) == 2


async def test_closing_fixes_the_result(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    assert (await cast(client, entry["id"], 2)).status_code == 201
    url = f"/api/blogs/election-night/entries/{entry['id']}/poll/close"
    assert (await client.post(url, headers=tokens.auth("contributor"))).status_code == 403
    closed = await client.post(url, headers=tokens.auth("reporter"))
    assert closed.status_code == 200
    assert closed.json()["poll"]["closed_at"] is not None
    assert closed.json()["version"] == entry["version"] + 1  # type: ignore[operator]
    assert (await client.post(url, headers=tokens.auth("reporter"))).status_code == 409
    async with httpx.AsyncClient(transport=client._transport, base_url="http://test") as other:
        assert (await cast(other, entry["id"], 0)).status_code == 409
    assert await results(client) == {
        str(entry["id"]): {"results": [0, 0, 1], "total": 1, "closed": True}
    }
    page = (await client.get("/blogs/election-night")).text
    assert "data-closed" in page and 'name="option" value="0" required disabled' in page


async def test_a_poll_closes_by_itself_at_its_time(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    soon = (now() + timedelta(seconds=1)).isoformat()
    entry = await post_poll(client, tokens, closes_at=soon)
    assert await close_due_polls(services(app).db, services(app).hub) == 0
    await asyncio.sleep(1.1)
    assert (await cast(client, entry["id"], 0)).status_code == 409  # past its time: closed
    assert await close_due_polls(services(app).db, services(app).hub) == 1
    assert await close_due_polls(services(app).db, services(app).hub) == 0  # once
    got = (await client.get(f"/api/blogs/election-night/entries/{entry['id']}")).json()
    assert got["poll"]["closed_at"] == got["poll"]["closes_at"]


async def test_the_form_votes_without_javascript(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    page = (await client.get("/blogs/election-night")).text
    action = f'action="/blogs/election-night/entries/{entry["id"]}/vote"'
    assert action in page and '<button type="submit">Vote</button>' in page
    url = f"/blogs/election-night/entries/{entry['id']}/vote"
    voted = await client.post(url, data={"option": "1"})
    assert voted.status_code == 303
    assert voted.headers["location"] == f"/blogs/election-night/entries/{entry['id']}"
    again = await client.post(url, data={"option": "0"})
    assert again.status_code == 409 and "you have voted in it" in again.text
    assert (await client.post(url, data={"option": "9"})).status_code == 422
    assert await votes(db) == 1


async def test_pages_show_the_results_once_counted(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    entry = await post_poll(client, tokens)
    counts = '<span class="poll-count" data-count>{}</span>'
    assert counts.format(0) in (await client.get("/blogs/election-night")).text
    await cast(client, entry["id"], 1)
    # The page is kept per offset; a round of the results (every POLL_RESULTS_SECONDS)
    # that finds them changed renders it anew.
    await client.get("/blogs/election-night")  # the cache follows the blog from here
    await Polls(services(app).hub, services(app).db, 0).round()
    page = (await client.get("/blogs/election-night")).text
    assert '<span class="poll-total" data-total>1 vote</span>' in page
    assert counts.format(1) in page


async def test_votes_stored_together_each_counted_once(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object], db: Database
) -> None:
    entry = await post_poll(client, tokens)
    transport = httpx.ASGITransport(app=app)

    async def one_reader(n: int) -> list[int]:
        cookies = {"lu_voter": secrets.token_urlsafe(18)}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", cookies=cookies
        ) as someone:
            # One reader, three votes at once: one is counted.
            thrice = await asyncio.gather(*(cast(someone, entry["id"], n % 3) for _ in range(3)))
            return sorted(r.status_code for r in thrice)

    answers = await asyncio.gather(*(one_reader(n) for n in range(100)))
    assert all(codes == [201, 409, 409] for codes in answers)
    assert await votes(db) == 100
    assert (await results(client))[str(entry["id"])] == {
        "results": [34, 33, 33],
        "total": 100,
        "closed": False,
    }


async def test_readers_get_results_in_hello_and_every_few_seconds(
    start_server: StartServer, tokens: Tokens
) -> None:
    server: LiveServer = await start_server(poll_results_seconds=0.2)
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post(
            "/api/blogs", json={"slug": "live", "title": "Live"}, headers=tokens.auth("admin")
        )
        made = await client.post(
            "/api/blogs/live/entries", json={"body": "Poll", "poll": POLL},
            headers=tokens.auth("editor"),
        )  # fmt: skip
        entry_id = made.json()["id"]
        async with reader(server, "") as socket:
            assert "polls" not in await socket.next()  # hello: no votes yet
            await client.post(f"/api/blogs/live/entries/{entry_id}/votes", json={"option": 2})
            notice = await socket.next(timeout=5)
            assert notice == {
                "type": "poll.results",
                "polls": {str(entry_id): {"results": [0, 0, 1], "total": 1, "closed": False}},
            }
            await client.post(
                "/api/blogs/live/entries", json={"body": "Next"}, headers=tokens.auth("editor")
            )
            [created] = await events_until(socket, made.json()["id"] and 2)
            assert created["type"] == "entry.created"  # one notice per change, not per round
        async with reader(server, "") as socket:
            hello = await socket.next()
            assert hello["polls"] == {
                str(entry_id): {"results": [0, 0, 1], "total": 1, "closed": False}
            }


async def test_votes_answered_in_front_of_the_framework_as_it_answers_them(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    """`VotesMiddleware` counts well-formed votes itself and hands every other to the
    framework's route; either way the answer is the one the route alone gives."""
    with_poll = (await post_poll(client, tokens))["id"]
    closed = (await post_poll(client, tokens))["id"]
    await client.post(
        f"/api/blogs/election-night/entries/{closed}/poll/close", headers=tokens.auth("editor")
    )
    made = await client.post(
        "/api/blogs/election-night/entries", json={"body": "No poll"}, headers=tokens.auth("editor")
    )
    without_poll = made.json()["id"]
    reached: list[str] = []

    async def framework(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["path"])
        await app(scope, receive, send)

    json = {"content-type": "application/json"}
    cases: list[tuple[str, bytes, dict[str, str], bool]] = [
        (f"election-night/entries/{with_poll}", b'{"option": 1}', json, True),
        (f"election-night/entries/{with_poll}", b'{"option": 3}', json, True),
        (f"election-night/entries/{closed}", b'{"option": 0}', json, True),
        (f"election-night/entries/{without_poll}", b'{"option": 0}', json, True),
        ("election-night/entries/999999", b'{"option": 0}', json, True),
        (f"no-such-blog/entries/{with_poll}", b'{"option": 0}', json, True),
        (f"election-night/entries/{with_poll}", b'{"option": -1}', json, False),
        (f"election-night/entries/{with_poll}", b'{"option": "x"}', json, False),
        (f"election-night/entries/{with_poll}", b'{"option": 1, "more": 1}', json, False),
        (f"election-night/entries/{with_poll}", b'{"option": 1', json, False),
        (f"election-night/entries/{with_poll}", b"[1]", json, False),
        (f"election-night/entries/{with_poll}", b'{"option": 1}', {}, False),
        (f"election-night/entries/{with_poll}", b"option=1", {"content-type": "text/plain"}, False),
        (f"election-night/entries/{with_poll}", b'{"option":1}' + b" " * 300, json, False),
        (f"election-night/entries/{2**31}", b'{"option": 0}', json, False),
    ]
    front = httpx.ASGITransport(app=VotesMiddleware(framework, app))
    alone = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=front, base_url="http://test") as served,
        httpx.AsyncClient(transport=alone, base_url="http://test") as routed,
    ):
        for path, body, headers, in_front in cases:
            url = f"/api/blogs/{path}/votes"
            answers = []
            for way in (served, routed):
                way.cookies.clear()
                answer = await way.post(url, content=body, headers=headers)
                answers.append(
                    (answer.status_code, answer.json(), "lu_voter=" in str(answer.headers))
                )
            assert answers[0] == answers[1], (path, body)
            assert (url not in reached) is in_front, (path, body)
            reached.clear()
        # The cookie the front sets is the one it then knows: a second vote is refused.
        served.cookies.clear()
        url = f"/api/blogs/election-night/entries/{with_poll}/votes"
        assert (await served.post(url, json={"option": 0})).status_code == 201
        again = await served.post(url, json={"option": 2})
        assert again.status_code == 409
        assert again.json() == {"detail": "you have voted in this poll"}
    # Option 1: the first case, and the framework's without a content type and the long one.
    assert (await results(client))[str(with_poll)]["results"] == [1, 4, 0]
