"""In front of the framework: cached pages answered at once (`CachedPagesMiddleware`),
and how long the proxy in front may keep an answer (`ProxyFreshnessMiddleware`)."""

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.live.routes import match as match_route
from app.services import services
from app.site.pagecache import CACHED_ROUTES


class CachedPagesMiddleware:
    """What the server runs, in front of the app: a reader page or feed that is cached and
    current is answered here, before any middleware or routing, so that a surge of readers
    costs the least per request. Everything else goes to the app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope["query_string"]
            and (found := match_route(scope["path"])) is not None
            and (kind := CACHED_ROUTES.get(found.route)) is not None
        ):
            cache = services(self.app).page_cache
            page = cache.fresh(found.slug, kind, found.entry_id)
            if page is not None:
                scope["liveupdates.route"] = found.route.value
                headers = dict(scope["headers"])
                code, response_headers, body = page.answer(
                    headers.get(b"if-none-match", b"").decode("latin-1") or None,
                    headers.get(b"accept-encoding", b"").decode("latin-1"),
                )
                await send(
                    {"type": "http.response.start", "status": code, "headers": response_headers}
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": body if scope["method"] == "GET" else b"",
                    }
                )
                return
        await self.app(scope, receive, send)


class ProxyFreshnessMiddleware:
    """Tells the shipped nginx (deploy/nginx/microcache.conf) how long it may keep a GET's
    answer: to the end of the current second (`X-Accel-Expires: @<unix second>`; nginx keeps
    it to itself). nginx counts whole seconds, so "1 s" there would keep a page up to two;
    this way no reader of the cache gets a page older than one second."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_with_freshness(message: Message) -> None:
            if message["type"] == "http.response.start":
                second = b"@%d" % int(time.time())
                message["headers"] = [*message.get("headers", ()), (b"x-accel-expires", second)]
            await send(message)

        await self.app(scope, receive, send_with_freshness)
