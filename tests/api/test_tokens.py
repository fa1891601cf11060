"""Token management for admins, `whoami` for everyone, and the server-side preview."""

import httpx

from tests.conftest import Tokens


async def test_admins_create_list_and_revoke_tokens(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    admin = tokens.auth("admin")
    created = await client.post(
        "/api/tokens", json={"name": "Field team", "role": "reporter"}, headers=admin
    )
    assert created.status_code == 201
    made = created.json()
    assert made["token"].startswith("lu_") and made["role"] == "reporter"
    new = {"Authorization": f"Bearer {made['token']}"}
    me = (await client.get("/api/me", headers=new)).json()
    assert (me["id"], me["name"], me["role"]) == (made["id"], "Field team", "reporter")
    assert "token" not in me

    listed = (await client.get("/api/tokens", headers=admin)).json()["tokens"]
    assert "Field team" in [t["name"] for t in listed]
    assert all("token" not in t and "token_hash" not in t for t in listed)

    assert (await client.delete(f"/api/tokens/{made['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/me", headers=new)).status_code == 401
    listed = (await client.get("/api/tokens", headers=admin)).json()["tokens"]
    assert next(t for t in listed if t["id"] == made["id"])["revoked_at"] is not None
    assert (await client.delete("/api/tokens/999999", headers=admin)).status_code == 404


async def test_only_admins_manage_tokens(client: httpx.AsyncClient, tokens: Tokens) -> None:
    for role in ("editor", "reporter"):
        headers = tokens.auth(role)
        assert (await client.get("/api/tokens", headers=headers)).status_code == 403
        response = await client.post(
            "/api/tokens", json={"name": "Me too", "role": "admin"}, headers=headers
        )
        assert response.status_code == 403
        assert (await client.delete("/api/tokens/1", headers=headers)).status_code == 403
    assert (await client.get("/api/tokens")).status_code == 401
    bad = await client.post(
        "/api/tokens", json={"name": "", "role": "owner"}, headers=tokens.auth("admin")
    )
    assert bad.status_code == 422


async def test_preview_renders_as_readers_will_see_it(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    body = "**Breaking**\n\n<script>alert(1)</script>\n\n- one\n- two"
    response = await client.post(
        "/api/preview", json={"body": body}, headers=tokens.auth("reporter")
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>Breaking</strong>" in html and "<li>one</li>" in html
    assert "<script" not in html
    assert (await client.post("/api/preview", json={"body": body})).status_code == 401
