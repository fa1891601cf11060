"""Every storage test runs on SQLite and on the real Postgres, schema built by migrations."""

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import migrate
from app.auth import create_token
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Role

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
POSTGRES_TEST_DB = "liveupdates_test"
TABLES = ("idempotencykey", "event", "entry", "apitoken", "blog")


async def _recreate_postgres_database(admin_url: str, name: str) -> None:
    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def postgres_url(name: str = POSTGRES_TEST_DB) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a freshly migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        asyncio.run(_recreate_postgres_database(POSTGRES_ADMIN_URL, POSTGRES_TEST_DB))
        url = postgres_url()
    media = tmp_path_factory.mktemp("media")
    settings = Settings(database_url=url, broker_url="memory://", media_dir=Path(media))
    migrate.upgrade(settings)
    return settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
        await _empty_tables(app.state.db)


async def _empty_tables(db: Database) -> None:
    async with db.write() as session:
        if db.is_sqlite:
            for table in TABLES:
                await session.execute(text(f"DELETE FROM {table}"))
        else:
            await session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass
class Tokens:
    admin: str
    editor: str
    reporter: str
    other_reporter: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
async def tokens(db: Database) -> Tokens:
    made = {}
    async with db.write() as session:
        for attr, name, role in (
            ("admin", "Ada Admin", Role.admin),
            ("editor", "Ed Editor", Role.editor),
            ("reporter", "Rita Reporter", Role.reporter),
            ("other_reporter", "Otto Reporter", Role.reporter),
        ):
            _, made[attr] = await create_token(session, name, role)
    return Tokens(**made)


@pytest.fixture
async def blog(client: httpx.AsyncClient, tokens: Tokens) -> dict[str, object]:
    response = await client.post(
        "/api/blogs",
        json={"slug": "election-night", "title": "Election night", "description": "Results"},
        headers=tokens.auth("admin"),
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created
