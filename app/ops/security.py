"""Security headers on every response, cached pages included."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.domain.embeds import frame_origins


def content_security_policy(settings: Settings) -> str:
    # No inline script anywhere: the only <script>s in a page besides our own modules are
    # data blocks (JSON-LD, the words), which are not executed and need no exception. Entry
    # images may come from any https origin; live updates use the page's own origin (ws:
    # included). Frames: exactly the embed providers' (app/domain/embeds.py), loaded only once a
    # reader agrees; an embedded audio file may be on any https origin.
    frames = " ".join(frame_origins(settings.mastodon_hosts))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' https: data:",
            f"frame-src {frames}",
            "media-src 'self' https:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {settings.frame_ancestors}",
        ]
    )


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """On every answer, including those the reader edge writes itself."""
    return [
        ("Content-Security-Policy", content_security_policy(settings)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
