"""Apply the Alembic migrations: the only way the schema comes to exist. Then index what
the search index lacks (entries published before it came)."""

import asyncio

from alembic import command
from alembic.config import Config

from app.config import Settings
from app.domain import events
from app.domain.shapes.entries import EntryPublic
from app.resources import ALEMBIC_INI, MIGRATIONS
from app.store import bylines, entry_index, search
from app.store.db import Database

INDEX_BATCH = 500


def alembic_config(settings: Settings) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)
    if revision == "head":
        asyncio.run(complete_index(settings))


async def complete_index(settings: Settings) -> int:
    """Index the published entries the index lacks, a batch per transaction; how many."""
    db = Database(settings)
    count = 0
    try:
        while True:
            async with db.write() as session:
                missing = await search.unindexed(session, INDEX_BATCH)
                named = await bylines.profiles(
                    session, (i for e, _ in missing for i in e.author_ids)
                )
                told = [
                    (
                        blog.id,
                        blog.language,
                        events.entry_updated(EntryPublic.of(e, blog.slug, named)),
                    )
                    for e, blog in missing
                    if blog.id is not None
                ]
                await entry_index.follow(session, told)
            count += len(missing)
            if len(missing) < INDEX_BATCH:
                return count
    finally:
        await db.dispose()
