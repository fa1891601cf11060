"""Corrections made in the open: an edit of a published entry may carry a note readers see,
and every earlier version stays readable, read from the event log."""

import httpx
import orjson
import pytest

from tests.conftest import Tokens
from tests.site.test_i18n import parse

Blog = dict[str, object]
ENTRIES = "/api/blogs/election-night/entries"


async def post(
    client: httpx.AsyncClient, tokens: Tokens, role: str = "editor", **payload: object
) -> dict[str, object]:
    r = await client.post(ENTRIES, json=payload, headers=tokens.auth(role))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def patch(
    client: httpx.AsyncClient,
    tokens: Tokens,
    entry_id: object,
    role: str = "editor",
    **changes: object,
) -> httpx.Response:
    return await client.patch(f"{ENTRIES}/{entry_id}", json=changes, headers=tokens.auth(role))


async def test_a_correction_is_shown_with_the_edit_and_published_time_stays(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await post(client, tokens, headline="Turnout 54%", body="Turnout was 54% at noon.")
    r = await patch(
        client, tokens, entry["id"], body="Turnout was 45% at noon.",
        correction="An earlier version gave turnout as 54%.",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    corrected = r.json()
    assert corrected["published_at"] == entry["published_at"]
    assert corrected["updated_at"] is not None
    [note] = corrected["corrections"]
    assert note["note"] == "An earlier version gave turnout as 54%."
    assert note["version"] == corrected["version"] == 2
    assert note["at"] == corrected["updated_at"]
    # A later edit without a note keeps the note, and adds none.
    r = await patch(client, tokens, entry["id"], headline="Turnout 45%")
    assert [c["note"] for c in r.json()["corrections"]] == [note["note"]]


async def test_who_may_correct_and_what_a_correction_needs(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    own = await post(client, tokens, role="reporter", body="Polls close at 10pm.")
    r = await patch(client, tokens, own["id"], role="reporter", body="Polls close at 9pm.",
                    correction="Polls close at 9pm, not 10pm.")  # fmt: skip
    assert r.status_code == 200, r.text
    r = await patch(client, tokens, own["id"], role="other_reporter", body="Polls close at 8pm.",
                    correction="Wrong again.")  # fmt: skip
    assert r.status_code == 403
    r = await patch(client, tokens, own["id"], role="editor", body="Polls close at 9pm (local).",
                    correction="Time zone added.")  # fmt: skip
    assert r.status_code == 200
    before = (await client.get(f"{ENTRIES}/{own['id']}")).json()
    assert len(before["corrections"]) == 2

    for changes, code in (
        ({"correction": "Nothing changed"}, 422),  # a note needs a change of text
        ({"body": "Polls close at 9pm (local).", "correction": "Same text"}, 422),
        ({"pinned": True, "correction": "A pin is no correction"}, 422),
        ({"body": "New text", "correction": ""}, 422),
        ({"body": "New text", "correction": "x" * 501}, 422),
        ({"body": "New text", "correction": "bad\x00note"}, 422),
        ({"body": "New text", "corrections": []}, 422),  # the history is not writable
    ):
        r = await patch(client, tokens, own["id"], **changes)
        assert r.status_code == code, (changes, r.text)
    assert (await client.get(f"{ENTRIES}/{own['id']}")).json() == before

    draft = await post(client, tokens, body="Draft text", status="draft")
    r = await patch(client, tokens, draft["id"], body="Draft text, fixed", correction="Fixed")
    assert r.status_code == 409


async def test_versions_come_from_the_log_and_flag_changes_make_none(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await post(client, tokens, headline="Count starts", body="Counting starts in Leeds.")
    assert (await patch(client, tokens, entry["id"], pinned=True)).status_code == 200
    assert (await patch(client, tokens, entry["id"], key_event=True)).status_code == 200
    r = await patch(client, tokens, entry["id"], body="Counting starts in Bradford.",
                    correction="The count is in Bradford, not Leeds.")  # fmt: skip
    assert r.status_code == 200
    r = await patch(client, tokens, entry["id"], body="Counting starts in Bradford at 11pm.")
    assert r.status_code == 200

    history = (await client.get(f"{ENTRIES}/{entry['id']}/versions")).json()
    versions = history["versions"]
    assert [v["version"] for v in versions] == [1, 4, 5]
    assert versions[0]["at"] == entry["published_at"]
    assert versions[0]["correction"] is None and versions[2]["correction"] is None
    assert versions[1]["correction"] == "The count is in Bradford, not Leeds."
    changed = [(c["op"], c["text"]) for c in versions[1]["changes"] if c["op"] != "equal"]
    assert changed == [("delete", "Leeds"), ("insert", "Bradford")]
    changed = [(c["op"], c["text"].strip()) for c in versions[2]["changes"] if c["op"] != "equal"]
    assert changed == [("insert", "at 11pm")]
    assert (
        "".join(c["text"] for c in versions[0]["changes"])
        == "Count starts\nCounting starts in Leeds."
    )

    # Only what readers may see: not drafts, not deleted entries, not another blog's.
    draft = await post(client, tokens, body="Draft", status="draft")
    assert (await client.get(f"{ENTRIES}/{draft['id']}/versions")).status_code == 404
    await client.post(
        "/api/blogs", json={"slug": "other", "title": "Other"}, headers=tokens.auth("admin")
    )
    assert (await client.get(f"/api/blogs/other/entries/{entry['id']}/versions")).status_code == 404
    r = await client.delete(f"{ENTRIES}/{entry['id']}", headers=tokens.auth("editor"))
    assert r.status_code == 204
    assert (await client.get(f"{ENTRIES}/{entry['id']}/versions")).status_code == 404


async def test_pages_show_corrections_history_and_json_ld(
    client: httpx.AsyncClient, tokens: Tokens, blog: Blog
) -> None:
    entry = await post(client, tokens, headline="Result", body="Ann Lee <wins> by 200 votes.")
    plain = await post(client, tokens, body="No edits here.")
    await patch(client, tokens, entry["id"], body="Ann Lee <wins> by 2,000 votes.",
                correction="The majority is 2,000, not 200.")  # fmt: skip

    page = (await client.get("/blogs/election-night")).text
    assert "<strong>Correction:</strong> <span>The majority is 2,000, not 200.</span>" in page
    assert f'href="/blogs/election-night/entries/{entry["id"]}#history"' in page
    assert f'href="/blogs/election-night/entries/{plain["id"]}#history"' not in page
    jsonld = orjson.loads(parse(page).scripts["application/ld+json"])
    [update] = [u for u in jsonld["liveBlogUpdate"] if u["headline"] == "Result"]
    assert update["correction"]["@type"] == "CorrectionComment"
    assert update["correction"]["text"] == "The majority is 2,000, not 200."
    assert update["dateModified"] != update["datePublished"]

    own = (await client.get(f"/blogs/election-night/entries/{entry['id']}")).text
    assert 'id="history"' in own
    assert "<del>200</del><ins>2,000</ins>" in own.replace("\n", "")
    assert "&lt;wins&gt;" in own and "<wins>" not in own  # every version's text is escaped
    fragment = await client.get(f"/blogs/election-night/entries/{entry['id']}/history")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section class="history"')
    assert "The majority is 2,000, not 200." in fragment.text
    unedited = await client.get(f"/blogs/election-night/entries/{plain['id']}")
    assert 'id="history"' not in unedited.text
    missing = await client.get("/blogs/election-night/entries/999999/history")
    assert missing.status_code == 404


@pytest.mark.parametrize("language, word", [("ru", "Исправление:"), ("ar", "تصحيح:")])
async def test_corrections_in_the_blogs_language(
    client: httpx.AsyncClient, tokens: Tokens, language: str, word: str
) -> None:
    await client.post(
        "/api/blogs", json={"slug": "election-night", "title": "T", "language": language},
        headers=tokens.auth("admin"),
    )  # fmt: skip
    entry = await post(client, tokens, body="One")
    await patch(client, tokens, entry["id"], body="Two", correction="Fixed")
    assert word in (await client.get("/blogs/election-night")).text
