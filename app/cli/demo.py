"""A small demo blog, posted through the real API so that it is made like any other."""

from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.config import Settings
from app.domain.models import ApiToken, Blog, Role
from app.main import create_app
from app.store.auth import create_token
from app.store.db import Database

SLUG = "demo"

BLOG = {
    "slug": SLUG,
    "title": "Storm Aurelia: live updates as the coast braces for record winds",
    "description": "Our reporters along the coast follow the storm hour by hour.",
    "timezone": "Europe/London",
}

ENTRIES = [
    {
        "headline": "Red warning issued for the whole coast",
        "body": "The national weather service has raised its warning to **red**, the highest "
        "level, from 6pm tonight until noon tomorrow.\n\n"
        "> Stay indoors unless your journey is absolutely necessary.\n\n"
        "The service expects gusts of up to 150 km/h on exposed headlands.",
        "key_event": True,
    },
    {
        "body": "Ferries between the islands and the mainland are cancelled for the rest of "
        "the day. The operator says it will review sailings at 7am.",
    },
    {
        "headline": "What you need to know",
        "body": "- Schools in coastal districts are closed tomorrow\n"
        "- Rail services are replaced by buses after 4pm\n"
        "- Emergency shelters are open in three town halls\n\n"
        "Check your council's website for the nearest one.",
        "pinned": True,
    },
    {
        "body": "Our correspondent in the harbour reports waves breaking over the sea wall. "
        "Police have closed the promenade.",
    },
]


async def ensure_demo(settings: Settings) -> str:
    """Create the demo blog once; return a new editor token to try the API with."""
    db = Database(settings)
    try:
        async with db.write() as session:
            exists = await session.scalar(select(col(Blog.id)).where(col(Blog.slug) == SLUG))
            setup, setup_plain = await create_token(session, "Newsdesk", Role.admin)
            _, editor_plain = await create_token(session, "Demo editor", Role.editor)
        if exists is None:
            await _post_demo(settings, setup_plain)
        async with db.write() as session:
            token = await session.get(ApiToken, setup.id)
            assert token is not None
            token.revoked_at = datetime.now(UTC)
    finally:
        await db.dispose()
    return editor_plain


async def _post_demo(settings: Settings, admin_token: str) -> None:
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://demo", headers=headers
        ) as client:
            (await client.post("/api/blogs", json=BLOG)).raise_for_status()
            for entry in ENTRIES:
                response = await client.post(f"/api/blogs/{SLUG}/entries", json=entry)
                response.raise_for_status()
