"""Readers' WebSockets through ASGI, when the server is not uvicorn with `app.live.edge`
(other servers, test clients); their SSE route is app/api/streams.py."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.config import Settings
from app.live.hub import Hub
from app.live.joining import origin_allowed, replay, start_reading
from app.live.readers import QueueReader, TransportReader
from app.live.request import ReaderRequest, Refused
from app.live.routes import Route
from app.live.routes import match as match_route
from app.live.wire import SLOW_READER_REASON, CloseCode
from app.services import services
from app.store.db import Database


class ReaderSocketsMiddleware:
    """Outermost ASGI middleware serving readers' WebSockets at /ws/blogs/{slug}.

    Readers are the many; each open one costs memory for as long as it stays. So they are
    served here, in front of the framework, with the fewest objects per connection: no
    router, no dependency stack, and under uvicorn no task or queue of our own: events
    are written straight to the connection's transport (see readers.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match_route(scope["path"]) if scope["type"] == "websocket" else None
        if found is None or found.route is not Route.READER_SOCKET:
            await self.app(scope, receive, send)
            return
        # uvicorn's `send` is a method of its protocol object, which holds the transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        # A reader that vanished mid-send surfaces as OSError (uvicorn's ClientDisconnected).
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await serve_reader(scope["app"], found.slug, scope, receive, send, transport)


async def serve_reader(
    app: Any, slug: str, scope: Scope, receive: Receive, send: Send, transport: Any
) -> None:
    """A reader's live connection: hello, the events after `since`, then live events."""
    settings: Settings = services(app).settings
    if (await receive())["type"] != "websocket.connect":
        return
    headers = Headers(scope=scope)
    # Closing before accepting refuses the upgrade (403).
    refuse = {"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION}
    if not origin_allowed(headers.get("origin"), headers.get("host"), settings):
        await send(refuse)
        return
    address = (scope.get("client") or ("",))[0]  # uvicorn applied trusted proxies' headers
    if not services(app).admission.open(address):
        await send(refuse)
        return
    try:
        await _serve_accepted(app, slug, scope, receive, send, transport)
    finally:
        services(app).admission.close(address)


async def _serve_accepted(
    app: Any, slug: str, scope: Scope, receive: Receive, send: Send, transport: Any
) -> None:
    settings: Settings = services(app).settings
    db: Database = services(app).db
    hub: Hub = services(app).hub
    await send({"type": "websocket.accept"})

    async def send_text(data: bytes) -> None:
        await send({"type": "websocket.send", "text": data.decode()})

    async def close(code: int, reason: str) -> None:
        await send({"type": "websocket.close", "code": code, "reason": reason})

    limit = settings.reader_buffer_bytes
    try:
        request = ReaderRequest.parse(slug, scope.get("query_string", b"").decode("latin-1"))
    except Refused as refused:
        return await close(refused.code, refused.reason)
    reader: TransportReader | QueueReader = (
        TransportReader(transport, limit, in_audience=request.in_audience)
        if transport is not None and hasattr(transport, "get_write_buffer_size")
        else QueueReader(limit, "websocket", request.in_audience)
    )
    try:
        blog_id, position, greeting = await start_reading(hub, db, request, reader)
    except Refused as refused:
        return await close(refused.code, refused.reason)
    try:
        await send_text(greeting)
        if request.since is not None:
            async for frame in replay(db, hub, blog_id, request.since, position):
                await send_text(frame.data)
                reader.sent = frame.offset
        reader.go_live()
        if isinstance(reader, TransportReader):
            await _until_disconnect(receive)
        else:
            await _pump(receive, send_text, close, reader)
    finally:
        hub.leave(blog_id, reader)


async def _until_disconnect(receive: Receive) -> None:
    """Readers have nothing to say; what they send is ignored until they go."""
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def _pump(
    receive: Receive,
    send_text: Callable[[bytes], Awaitable[None]],
    close: Callable[[int, str], Awaitable[None]],
    reader: QueueReader,
) -> None:
    async def send() -> None:
        while (batch := await reader.next_batch()) is not None:
            for frame in batch:
                await send_text(frame.data)
        await close(*(reader.closing or (CloseCode.SLOW_READER, SLOW_READER_REASON)))

    sender = asyncio.create_task(send())
    receiver = asyncio.create_task(_until_disconnect(receive))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
