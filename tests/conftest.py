"""Every storage test runs on SQLite and on the real Postgres, schema built by migrations."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.cli import migrate
from app.config import Settings
from app.domain.models import Role
from app.live.edge.options import uvicorn_options
from app.main import create_app, serving
from app.services import services
from app.store.auth import create_token
from app.store.db import Database
from tests.servers import RedisServer, free_port, run_cli

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# One database per test run, so that two runs on one machine never meet.
POSTGRES_TEST_DB = f"liveupdates_test_{os.getpid()}"
TABLES = (
    "entrysearch", "entrytag", "entryauthor", "author", "idempotencykey",
    "event", "question", "vote", "pushjob", "pushsubscription", "pushkey", "entry", "apitoken",
    "blog",
)  # fmt: skip


async def _recreate_postgres_database(admin_url: str, name: str, create: bool = True) -> None:
    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def postgres_url(name: str = POSTGRES_TEST_DB) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def restored(settings: Settings, backup: Path, where: Path) -> AsyncIterator[Settings]:
    """`liveupdates restore` of `backup` into a fresh database of the same kind (a file in
    `where`, or a Postgres database dropped after): the settings to serve it with."""
    name = f"liveupdates_restored_{os.getpid()}"
    if settings.is_sqlite:
        url = f"sqlite+aiosqlite:///{where / 'restored.db'}"
    else:
        await _recreate_postgres_database(POSTGRES_ADMIN_URL, name)
        url = postgres_url(name)
    try:
        done = run_cli(url, "restore", str(backup))
        assert done.returncode == 0, done.stderr
        yield settings.model_copy(update={"database_url": url})
    finally:
        if not settings.is_sqlite:
            await _recreate_postgres_database(POSTGRES_ADMIN_URL, name, create=False)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a freshly migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        asyncio.run(_recreate_postgres_database(POSTGRES_ADMIN_URL, POSTGRES_TEST_DB))
        request.addfinalizer(
            lambda: asyncio.run(
                _recreate_postgres_database(POSTGRES_ADMIN_URL, POSTGRES_TEST_DB, create=False)
            )
        )
        url = postgres_url()
    media = tmp_path_factory.mktemp("media")
    # Abuse limits off: tests post fast from few tokens; the limits have tests of their own.
    settings = Settings(
        database_url=url,
        broker_url="memory://",
        media_dir=Path(media),
        post_rate_per_minute=0,
        questions_per_address_per_hour=0,
        questions_per_blog_per_minute=0,
        votes_per_address_per_hour=0,
        push_subscribes_per_address_per_hour=0,
        ws_connections_per_address=0,
        reader_connects_per_second=0,
    )
    migrate.upgrade(settings)
    return settings


@pytest.fixture
async def clean_db(settings: Settings) -> AsyncIterator[None]:
    """Each test starts from, and leaves, empty tables."""
    yield
    db = Database(settings)
    try:
        await _empty_tables(db)
    finally:
        await db.dispose()


@pytest.fixture
async def app(settings: Settings, clean_db: None) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def _empty_tables(db: Database) -> None:
    async with db.write() as session:
        if db.is_sqlite:
            for table in TABLES:
                await session.execute(text(f"DELETE FROM {table}"))
        else:
            await session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = services(app).db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # As served: security headers and the cached-pages front door included.
    transport = httpx.ASGITransport(app=serving(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass
class Tokens:
    admin: str
    editor: str
    reporter: str
    other_reporter: str
    contributor: str
    other_contributor: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
async def tokens(settings: Settings, clean_db: None) -> Tokens:
    made = {}
    db = Database(settings)
    try:
        async with db.write() as session:
            for attr, name, role in (
                ("admin", "Ada Admin", Role.admin),
                ("editor", "Ed Editor", Role.editor),
                ("reporter", "Rita Reporter", Role.reporter),
                ("other_reporter", "Otto Reporter", Role.reporter),
                ("contributor", "Cleo Stringer", Role.contributor),
                ("other_contributor", "Gus Guest", Role.contributor),
            ):
                _, made[attr] = await create_token(session, name, role)
    finally:
        await db.dispose()
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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop and start at will."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


@dataclass
class LiveServer:
    """A real uvicorn server on a local port, in the test's own event loop."""

    app: FastAPI
    port: int
    server: uvicorn.Server
    task: "asyncio.Task[None]"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


StartServer = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def start_server(settings: Settings, clean_db: None) -> AsyncIterator[StartServer]:
    """Start servers built from the test settings with some overridden; all stop at the end."""
    servers: list[LiveServer] = []

    async def start(
        port: int | None = None,
        uvicorn_overrides: dict[str, object] | None = None,
        **overrides: object,
    ) -> LiveServer:
        app = create_app(settings.model_copy(update=overrides))
        port = port or free_port()
        options = {
            **uvicorn_options(app.state.settings),
            "timeout_graceful_shutdown": 1,
            **(uvicorn_overrides or {}),
        }
        config = uvicorn.Config(
            serving(app), host="127.0.0.1", port=port, log_level="warning", **options
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        live = LiveServer(app, port, server, task)
        servers.append(live)
        return live

    yield start
    for live in servers:
        await live.stop()
