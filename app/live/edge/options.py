"""How uvicorn is run in front of the application: one place for `liveupdates serve` and
for the tests' servers."""

from typing import Any

from app.config import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        # Every connection starts in our HTTP protocol, which hands readers to their own.
        "http": "app.live.edge.http:HttpProtocol",
        # uvicorn's own WebSocket implementation serves only when the app is not ours.
        "ws": "websockets-sansio",
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # Client addresses from X-Forwarded-For only behind proxies we were told to trust.
        "forwarded_allow_ips": settings.trusted_proxies,
    }
