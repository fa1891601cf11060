"""The `liveupdates` command."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

import uvicorn

from app import demo, migrate
from app.auth import create_token
from app.config import Settings
from app.db import Database
from app.models import Role


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers > 1 and settings.broker_url.startswith("memory://"):
        print(
            "liveupdates: --workers > 1 needs a shared broker so that a post on one worker "
            "reaches readers on the others: set BROKER_URL=redis://127.0.0.1:6379/0",
            file=sys.stderr,
        )
        return 2
    migrate.upgrade(settings)
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Readers get the same pre-built frame; compressing per reader would undo that.
        ws="app.wsserver:ReaderProtocol",
        ws_per_message_deflate=False,
        ws_ping_interval=settings.heartbeat_seconds,
        ws_ping_timeout=settings.heartbeat_seconds,
        ws_max_size=settings.reader_message_bytes,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # Client addresses from X-Forwarded-For only behind proxies we were told to trust.
        forwarded_allow_ips=settings.trusted_proxies,
        log_level=args.log_level,
    )
    return 0


async def _create_token(settings: Settings, name: str, role: Role) -> str:
    db = Database(settings)
    try:
        async with db.write() as session:
            _, plain = await create_token(session, name, role)
    finally:
        await db.dispose()
    return plain


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings)
    return 0


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    plain = asyncio.run(_create_token(settings, args.name, Role(args.role)))
    print(f"Created {args.role} token {args.name!r}. It is shown once; keep it safe:")
    print(plain)
    return 0


def _demo(_args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings)
    plain = asyncio.run(demo.ensure_demo(settings))
    print("Demo blog: /blogs/demo   API: /api/blogs/demo/entries")
    print("An editor token for trying the API (shown once):")
    print(plain)
    return 0


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

    demo_cmd = commands.add_parser(
        "demo", help="create the demo blog (once) and print a new editor token"
    )
    demo_cmd.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    code: int = args.run(args, settings)
    return code


if __name__ == "__main__":
    sys.exit(main())
