import asyncio
from pathlib import Path

import orjson
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from app.cli.migrate import alembic_config, upgrade
from app.config import Settings
from app.store.db import Database
from app.store.search import MANAGED_HERE


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    return not (type_ == "table" and name in MANAGED_HERE)


async def test_models_and_migrations_agree(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


async def test_events_logged_before_0004_learn_their_entry(tmp_path: Path) -> None:
    """Histories of entries published before corrections existed are read from the log too."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await asyncio.to_thread(upgrade, settings, "0003")  # Alembic runs its own loop
    entry = {"id": 7, "headline": None, "html": "<p>x</p>"}
    rows = [
        (1, "entry.created", {"type": "entry.created", "offset": 1, "entry": entry}),
        (2, "blog.updated", {"type": "blog.updated", "offset": 2, "blog": {}}),
        (3, "entry.deleted", {"type": "entry.deleted", "offset": 3, "entry_id": 7}),
    ]
    async with Database(settings) as db, db.write() as session:
        await session.execute(
            text("INSERT INTO blog (id, slug, title, description, status, timezone, created_at,"
                 " last_offset) VALUES (1, 'b', 'B', '', 'live', 'UTC', '2026-11-26', 3)")
        )  # fmt: skip
        for offset, kind, data in rows:
            await session.execute(
                text("INSERT INTO event (blog_id, \"offset\", type, data, created_at)"
                     " VALUES (1, :offset, :type, :data, '2026-11-26')"),
                {"offset": offset, "type": kind, "data": orjson.dumps(data).decode()},
            )  # fmt: skip
    await asyncio.to_thread(upgrade, settings)
    async with Database(settings) as db, db.read() as session:
        found = await session.execute(text('SELECT "offset", entry_id FROM event ORDER BY 1'))
        assert list(found) == [(1, 7), (2, None), (3, 7)]
        language = await session.scalar(text("SELECT language FROM blog"))
        assert language == "en"
    # Down again and up: columns of `blog` come and go in place, and nothing that hangs
    # off a blog (its events, by ON DELETE CASCADE) is lost on the way.
    await asyncio.to_thread(downgrade, settings, "0003")
    await asyncio.to_thread(upgrade, settings)
    async with Database(settings) as db, db.read() as session:
        assert await session.scalar(text("SELECT count(*) FROM event")) == 3
