"""`liveupdates backup` and `liveupdates restore`: a consistent copy of the whole database
(blogs, entries, the event log, tokens) taken while the server runs, and put back into an
empty database. docs/OPERATIONS.md has the drill.

SQLite: the online backup API copies the database in one read transaction (writers go on;
the copy is the database as of one moment). Postgres: `pg_dump --format=custom`, one
snapshot too; `pg_restore` puts it back. Either way the copy holds every event up to some
offset and nothing after, so readers resuming on a restored server get exactly what it
has, and an offset beyond it is refused (close 4400), which makes them reload.
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from app.config import Settings


class BackupError(Exception):
    pass


def _url(settings: Settings) -> URL:
    return make_url(settings.database_url)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq address for pg_dump/pg_restore, the password in the environment (never on
    a command line other users may read)."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is needed for Postgres backups: apt-get install postgresql-client"
        )
    return found


def backup(settings: Settings, output: Path) -> None:
    """Write a consistent copy of the database to `output` (replaced whole, or not at all)."""
    url = _url(settings)
    output = output.resolve()
    partial = Path(tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")[1])
    try:
        if url.get_backend_name() == "sqlite":
            source = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # all pages in one step: one moment's database
            finally:
                target.close()
                source.close()
        else:
            address, env = _libpq(url)
            done = subprocess.run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={partial}", f"--dbname={address}"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def restore(settings: Settings, source: Path) -> None:
    """Put a backup into the (empty) database of `settings`."""
    url = _url(settings)
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"{path} exists: restore into a new database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target = sqlite3.connect(path)
        try:
            backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
        return
    address, env = _libpq(url)
    tables = subprocess.run(
        [_tool("psql"), "--no-psqlrc", "--tuples-only", "--no-align", f"--dbname={address}",
         "--command=SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if tables.returncode != 0:
        raise BackupError(f"cannot reach the database: {tables.stderr.strip()}")
    if tables.stdout.strip() != "0":
        raise BackupError("the database is not empty: restore into a new database")
    done = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
         f"--dbname={address}", str(source)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
