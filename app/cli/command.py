"""The `liveupdates` command."""

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from app.cli import backup, demo, migrate
from app.cli.poster import PostFailed, post_entry
from app.config import Settings
from app.domain.models import ApiToken, Role
from app.live.edge.admission import raise_open_files_limit
from app.live.edge.options import uvicorn_options
from app.live.push import start_sender_process, stop_sender_process
from app.ops import logs
from app.site.i18n import shipped
from app.store.auth import create_token, list_tokens, revoke_token
from app.store.db import Database
from app.store.eventlog import renew_epochs
from app.store.push import vapid_keys


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers > 1 and settings.broker_url.startswith("memory://"):
        print(
            "liveupdates: --workers > 1 needs a shared broker so that a post on one worker "
            "reaches readers on the others: set BROKER_URL=redis://127.0.0.1:6379/0",
            file=sys.stderr,
        )
        return 2
    log_config = logs.configure(args.log_level, settings.log_format)
    raise_open_files_limit()  # before the workers start: they inherit it
    migrate.upgrade(settings)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before the workers and the push sender start: each writes its metrics there,
        # /metrics adds them up. (One worker serves in this process, whose metrics were
        # set up at import: set the variable before the start to have the sender's too.)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="liveupdates-metrics-")
    sender = start_sender_process(settings)  # alerts leave the servers' event loops alone
    try:
        uvicorn.run(
            "app.main:app_factory",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            **uvicorn_options(settings),
            log_level=args.log_level,
            log_config=log_config,
            access_log=False,  # app.ops.observability logs requests, with their ids
        )
    finally:
        stop_sender_process(sender)
    return 0


async def _create_token(settings: Settings, name: str, role: Role) -> str:
    async with Database(settings) as db, db.write() as session:
        _, plain = await create_token(session, name, role)
    return plain


def _vapid(_args: argparse.Namespace, settings: Settings) -> int:
    async def keys() -> str:
        async with Database(settings) as db:
            return (await vapid_keys(db)).public_key

    migrate.upgrade(settings)
    print(asyncio.run(keys()))
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings)
    return 0


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    plain = asyncio.run(_create_token(settings, args.name, Role(args.role)))
    print(f"Created {args.role} token {args.name!r}. It is shown once; keep it safe:")
    print(plain)
    return 0


def _token_list(_args: argparse.Namespace, settings: Settings) -> int:
    async def listed() -> list[ApiToken]:
        async with Database(settings) as db, db.read() as session:
            return await list_tokens(session)

    for token in asyncio.run(listed()):
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        print(f"{token.id:>5}  {token.role:<9} {state:<24} {token.name}")
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def revoked() -> bool:
        async with Database(settings) as db, db.write() as session:
            return await revoke_token(session, args.id) is not None

    if not asyncio.run(revoked()):
        print(f"no token {args.id}", file=sys.stderr)
        return 1
    print(f"Token {args.id} is revoked.")
    return 0


def _post(args: argparse.Namespace, _settings: Settings) -> int:
    token = os.environ.get("LIVEUPDATES_TOKEN")
    if not token:
        print("Set LIVEUPDATES_TOKEN to an API token.", file=sys.stderr)
        return 2
    body = sys.stdin.read() if args.body == "-" else args.body
    entry: dict[str, object] = {"body": body, "key_event": args.key_event, "pinned": args.pinned}
    if args.headline:
        entry["headline"] = args.headline
    if args.draft:
        entry["status"] = "draft"
    try:
        posted = post_entry(args.url, token, args.blog, entry)
    except PostFailed as error:
        print(f"not posted: {error}", file=sys.stderr)
        return 1
    link = f"{args.url}/blogs/{args.blog}#entry-{posted['id']}"
    print(f"{posted['status']} entry {posted['id']}: {link}")
    return 0


def _demo(_args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings)
    plain = asyncio.run(demo.ensure_demo(settings))
    print("Demo blog: /blogs/demo   Newsroom: /newsroom   API: /api/blogs/demo/entries")
    print("An editor token for the newsroom and the API (shown once):")
    print(plain)
    return 0


async def _renew_epochs(settings: Settings) -> None:
    async with Database(settings) as db:
        await renew_epochs(db)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "backup":
            backup.backup(settings, Path(args.file))
        else:
            backup.restore(settings, Path(args.file))
            migrate.upgrade(settings)  # a backup of an older version is brought up to date
            asyncio.run(_renew_epochs(settings))
    except backup.BackupError as error:
        print(f"liveupdates: {error}", file=sys.stderr)
        return 1
    print(f"{'backed up to' if args.command == 'backup' else 'restored from'} {args.file}")
    return 0


def _messages(_args: argparse.Namespace, _settings: Settings) -> int:
    from app.cli import catalogs  # Babel's extractors: a developer's command only

    for path in catalogs.update():
        print(path)
    untranslated = {
        f"{language}/{domain}": list(catalogs.missing(language, domain))
        for language in shipped()
        for domain in catalogs.SOURCES
    }
    for where, words in untranslated.items():
        for word in words:
            print(f"untranslated in {where}: {word!r}")
    print("Reinstall (make install) to compile the catalogs.")
    return 1 if any(untranslated.values()) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liveupdates", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)

    migrate_cmd = commands.add_parser("migrate", help="apply the database migrations")
    migrate_cmd.set_defaults(run=_migrate)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.set_defaults(run=_token_create)
    token_commands.add_parser("list", help="list tokens (never the secrets)").set_defaults(
        run=_token_list
    )
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(run=_token_revoke)

    post = commands.add_parser(
        "post",
        help="post an entry through the API (token from LIVEUPDATES_TOKEN)",
        description="Post an entry through a running server's API, retrying safely.",
    )
    post.add_argument("--blog", required=True, help="the blog's slug")
    post.add_argument("--headline")
    post.add_argument("--key-event", action="store_true")
    post.add_argument("--pinned", action="store_true")
    post.add_argument("--draft", action="store_true", help="save as a draft, do not publish")
    post.add_argument(
        "--url",
        default=os.environ.get("LIVEUPDATES_URL", "http://127.0.0.1:8000"),
        help="the server (default: LIVEUPDATES_URL or http://127.0.0.1:8000)",
    )
    post.add_argument("body", help="Markdown body, or - to read it from standard input")
    post.set_defaults(run=_post)

    demo_cmd = commands.add_parser(
        "demo", help="create the demo blog (once) and print a new editor token"
    )
    demo_cmd.set_defaults(run=_demo)

    backup_cmd = commands.add_parser(
        "backup", help="write a consistent copy of the database to FILE, while serving"
    )
    backup_cmd.add_argument("file")
    backup_cmd.set_defaults(run=_backup)
    restore_cmd = commands.add_parser(
        "restore", help="put a backup into the (empty) database of DATABASE_URL, then migrate"
    )
    restore_cmd.add_argument("file")
    restore_cmd.set_defaults(run=_backup)

    commands.add_parser(
        "vapid",
        help="make the server's Web Push (VAPID) keys if there are none; print the public key",
    ).set_defaults(run=_vapid)
    commands.add_parser(
        "messages",
        help="extract the code's words into the catalogs (app/translations); list untranslated",
    ).set_defaults(run=_messages)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    code: int = args.run(args, settings)
    return code


if __name__ == "__main__":
    sys.exit(main())
