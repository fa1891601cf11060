"""Engine and sessions. Reads never block; writes to one blog are serialised."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.config import Settings
from app.ops.outages import DATABASE


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def make_engine(settings: Settings, bounded: bool = True) -> AsyncEngine:
    """The engine; `bounded`: statements get the settings' time limits (not migrations)."""
    url = settings.database_url
    statement = settings.db_statement_timeout_seconds if bounded else None
    if not settings.is_sqlite:
        server_settings = {}
        if statement is not None:
            ms = str(round(statement * 1000))
            server_settings = {"statement_timeout": ms, "lock_timeout": ms}
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args={
                "timeout": settings.db_connect_timeout_seconds,
                "command_timeout": statement,
                "server_settings": server_settings,
            },
        )

        @event.listens_for(engine.sync_engine, "invalidate")
        def _cut(dbapi_connection: Any, _record: Any, error: BaseException | None) -> None:
            # A connection that timed out may be talking to a server that never answers:
            # end it now, not after the graceful close's own wait (2 s in SQLAlchemy).
            if isinstance(error, TimeoutError):
                dbapi_connection.driver_connection.terminate()

        return engine
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    busy_ms = round((statement or 30.0) * 1000)
    engine = create_async_engine(url, connect_args={"timeout": busy_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when a transaction begins (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE) so that two processes
        # can never deadlock upgrading read locks; readers begin deferred.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


# Postgres's own bounds ran out: statement_timeout (query_canceled), lock_timeout.
_TIMED_OUT_SQLSTATES = {"57014", "55P03"}


def timed_out(error: DBAPIError) -> bool:
    """Whether the database refused a statement for taking too long (then: 503)."""
    return getattr(error.orig, "sqlstate", None) in _TIMED_OUT_SQLSTATES


# Postgres's text holds no NUL: character_not_in_repertoire (in JSON: untranslatable_character).
_NUL_SQLSTATES = {"22021", "22P05"}


def held_nul(error: DBAPIError) -> bool:
    """Whether Postgres refused a value for holding a NUL: a request's (its data has none)."""
    return getattr(error.orig, "sqlstate", None) in _NUL_SQLSTATES


class Database:
    """One engine per app; `read()` for queries, `write()` for one committed transaction."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.is_sqlite = settings.is_sqlite
        self._write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        # SQLite has one writer at a time: queue writers here rather than in busy-waits.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self.lock_timeout = settings.db_pool_timeout_seconds

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block ends and rolls back on any error."""
        if self._write_lock is not None:
            # Bounded like a pool checkout: TimeoutError, answered 503, past it.
            async with asyncio.timeout(self.lock_timeout):
                await self._write_lock.acquire()
        try:
            async with AsyncSession(self._write_engine, expire_on_commit=False) as session:
                async with session.begin():
                    yield session
            DATABASE.answered()  # committed: an outage, if there was one, is over
        finally:
            if self._write_lock is not None:
                self._write_lock.release()

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.dispose()
