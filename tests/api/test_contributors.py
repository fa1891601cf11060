"""Contributors and the approval queue: submissions are the newsroom's until an editor
approves them (published now or scheduled) or returns them with a note."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from app.store.db import Database
from tests.conftest import Tokens

Blog = dict[str, object]
ENTRIES = "/api/blogs/election-night/entries"


async def submit(
    client: httpx.AsyncClient, tokens: Tokens, role: str = "contributor", **payload: object
) -> dict[str, object]:
    r = await client.post(
        ENTRIES, json={"body": "From the count", **payload}, headers=tokens.auth(role)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def patch(
    client: httpx.AsyncClient, tokens: Tokens, entry_id: object, role: str, **changes: object
) -> httpx.Response:
    return await client.patch(f"{ENTRIES}/{entry_id}", json=changes, headers=tokens.auth(role))


async def listed(
    client: httpx.AsyncClient, tokens: Tokens, role: str | None, status: str
) -> list[object]:
    headers = tokens.auth(role) if role else {}
    r = await client.get(ENTRIES, params={"status": status}, headers=headers)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["entries"]]


async def offset(client: httpx.AsyncClient) -> int:
    return int((await client.get("/api/blogs/election-night")).json()["offset"])


async def test_a_submission_is_unseen_until_approved_then_published_at_approval(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    before = await offset(client)
    entry = await submit(client, tokens, headline="Queue at the count")
    assert entry["status"] == "submitted" and entry["author"] == "Cleo Stringer"
    assert await offset(client) == before  # no event: readers know nothing of it
    assert await listed(client, tokens, None, "published") == []
    assert (await client.get(f"{ENTRIES}/{entry['id']}")).status_code == 404
    assert f"entry-{entry['id']}" not in (await client.get("/blogs/election-night")).text
    assert (await client.get(f"/blogs/election-night/entries/{entry['id']}")).status_code == 404
    assert f"/entries/{entry['id']}<" not in (await client.get("/sitemap.xml")).text
    assert "Queue at the count" not in (await client.get("/blogs/election-night/feed.atom")).text
    assert await listed(client, tokens, "editor", "submitted") == [entry["id"]]

    await asyncio.sleep(0.05)
    approved_at = datetime.now(UTC)
    r = await patch(client, tokens, entry["id"], "editor", status="published")
    assert r.status_code == 200, r.text
    published = r.json()
    assert published["status"] == "published" and published["author"] == "Cleo Stringer"
    assert datetime.fromisoformat(published["published_at"]) >= approved_at - timedelta(seconds=1)
    assert published["published_at"] != entry["published_at"]
    assert await offset(client) == before + 1
    assert await listed(client, tokens, None, "published") == [entry["id"]]
    assert await listed(client, tokens, "editor", "submitted") == []


async def test_approval_with_a_schedule_and_return_with_a_note(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await submit(client, tokens, body="Turnout is high")
    r = await patch(client, tokens, entry["id"], "editor", status="returned")
    assert r.status_code == 422  # a return needs its note
    r = await patch(client, tokens, entry["id"], "editor", status="returned",
                    review_note="Which polling station? Add a source.")  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "returned"
    mine = await client.get(f"{ENTRIES}/{entry['id']}", headers=tokens.auth("contributor"))
    assert mine.json()["review_note"] == "Which polling station? Add a source."
    assert await listed(client, tokens, "contributor", "returned") == [entry["id"]]
    r = await patch(client, tokens, entry["id"], "contributor",
                    body="Turnout is high at Hillside school, says the returning officer.",
                    status="submitted")  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "submitted"

    at = datetime.now(UTC) + timedelta(hours=1)
    r = await patch(client, tokens, entry["id"], "editor", publish_at=at.isoformat())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["publish_at"] is not None
    assert await listed(client, tokens, "editor", "scheduled") == [entry["id"]]
    # Once approved, it is not the contributor's to change.
    r = await patch(client, tokens, entry["id"], "contributor", body="Changed my mind")
    assert r.status_code == 403


async def test_what_a_contributor_may_and_may_not_do(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for payload in ({"status": "published"}, {"status": "draft"}, {"pinned": True},
                    {"key_event": True}, {"publish_at": later}):  # fmt: skip
        r = await client.post(
            ENTRIES, json={"body": "x", **payload}, headers=tokens.auth("contributor")
        )
        assert r.status_code == 403, (payload, r.text)
    r = await client.post(
        ENTRIES, json={"body": "x", "status": "submitted"}, headers=tokens.auth("editor")
    )
    assert r.status_code == 422  # editors publish; only contributors submit

    mine = await submit(client, tokens)
    theirs = await submit(client, tokens, role="other_contributor")
    published = await submit(client, tokens, role="editor")
    draft = await submit(client, tokens, role="editor", status="draft")

    # Their own submissions only: not another's, not drafts.
    assert await listed(client, tokens, "contributor", "submitted") == [mine["id"]]
    r = await client.get(ENTRIES, params={"status": "draft"}, headers=tokens.auth("contributor"))
    assert r.status_code == 403
    for entry, code in ((theirs, 404), (draft, 404), (mine, 200), (published, 200)):
        r = await client.get(f"{ENTRIES}/{entry['id']}", headers=tokens.auth("contributor"))
        assert r.status_code == code, entry
    assert sorted(await listed(client, tokens, "editor", "submitted")) == sorted(
        [mine["id"], theirs["id"]]
    )

    # They cannot publish, pin, mark key events, or touch what is not their submission.
    for changes in ({"status": "published"}, {"pinned": True}, {"key_event": True},
                    {"review_note": "x", "status": "returned"}, {"publish_at": later}):  # fmt: skip
        r = await patch(client, tokens, mine["id"], "contributor", **changes)
        assert r.status_code == 403, (changes, r.text)
    for entry in (theirs, published, draft):
        r = await patch(client, tokens, entry["id"], "contributor", body="mine now")
        assert r.status_code == 403
        r = await client.delete(f"{ENTRIES}/{entry['id']}", headers=tokens.auth("contributor"))
        assert r.status_code == 403
    # Reporters approve nothing that is not theirs; editors do.
    assert (
        await patch(client, tokens, mine["id"], "reporter", status="published")
    ).status_code == 403

    r = await patch(client, tokens, mine["id"], "contributor", headline="Edited", body="Better")
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = await client.delete(f"{ENTRIES}/{mine['id']}", headers=tokens.auth("contributor"))
    assert r.status_code == 204  # withdrawn
    assert await listed(client, tokens, "editor", "submitted") == [theirs["id"]]


async def test_two_editors_approving_at_once_publish_it_once(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog, db: Database
) -> None:
    for _ in range(5):
        entry = await submit(client, tokens)
        before = await offset(client)
        answers = await asyncio.gather(
            patch(client, tokens, entry["id"], "editor", status="published"),
            patch(client, tokens, entry["id"], "admin", status="published"),
        )
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json()["published_at"] == answers[1].json()["published_at"]
        assert await offset(client) == before + 1
        async with db.read() as session:
            created = await session.scalar(
                text("SELECT count(*) FROM event WHERE entry_id = :id AND type = 'entry.created'"),
                {"id": entry["id"]},
            )
        assert created == 1


async def test_contributor_tokens_from_the_api(client: httpx.AsyncClient, tokens: Tokens) -> None:
    r = await client.post("/api/tokens", json={"name": "Stringer in Leeds", "role": "contributor"},
                          headers=tokens.auth("admin"))  # fmt: skip
    assert r.status_code == 201 and r.json()["role"] == "contributor"
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["role"] == "contributor"
