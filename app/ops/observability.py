"""What happened to each request: an id, a latency in the histogram, a log line."""

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.logs import request_id
from app.ops.metrics import REQUEST_SECONDS

log = logging.getLogger("liveupdates.access")

_ID_HEADER = b"x-request-id"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The request's id: the one a proxy sent, when it looks like an id, else a new one."""
    for name, value in headers:
        if name == _ID_HEADER:
            text: str = value.decode("latin-1")
            # Taken from a proxy only when it looks like an id, not a log injection.
            if 0 < len(text) <= 128 and text.isascii() and text.isprintable() and " " not in text:
                return text
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """Outermost HTTP middleware: sets the request id (from `X-Request-ID` or new), echoes
    it in the answer and times the request by route template. It logs a line for every
    write and every server error; for every request with `log_reads` (ACCESS_LOG=all),
    which costs page throughput (reads are the many, and the proxy logs them too)."""

    def __init__(self, app: ASGIApp, log_reads: bool = False) -> None:
        self.app = app
        self.log_reads = log_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope["headers"])
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: cached pages hand out one header list to every request.
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or scope.get("liveupdates.route", "other")
            REQUEST_SECONDS.labels(scope["method"], template, f"{status // 100}xx").observe(elapsed)
            if self.log_reads or scope["method"] not in ("GET", "HEAD") or status >= 500:
                self._log(scope, template, status, elapsed)
            request_id.reset(token)

    @staticmethod
    def _log(scope: Scope, template: str, status: int, elapsed: float) -> None:
        log.info(
            "%s %s %d",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": template,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": (scope.get("client") or ("",))[0],
            },
        )
