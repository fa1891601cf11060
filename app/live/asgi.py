"""Readers through ASGI: the WebSocket middleware and the SSE route that serve readers when
the server is not uvicorn with `app.live.edge` (other servers, test clients)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.api.errors import errors
from app.config import Settings
from app.db import Database
from app.live.hub import Hub
from app.live.joining import origin_allowed, replay, start_reading
from app.live.readers import QueueReader, TransportReader
from app.live.request import MAX_POSITION, ReaderRequest, Refused
from app.live.wire import SLOW_READER_REASON, SSE_KEEP_ALIVE, CloseCode, sse_hello
from app.routes import Route
from app.routes import match as match_route
from app.services import services

router = APIRouter(tags=["live"])


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
        await close(CloseCode.SLOW_READER, SLOW_READER_REASON)

    sender = asyncio.create_task(send())
    receiver = asyncio.create_task(_until_disconnect(receive))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


class _EventStream(StreamingResponse):
    """The stream of a reader that has joined its blog: it leaves when the answer ends,
    however it ends (sent whole, cut off, or never started)."""

    def __init__(self, stream: AsyncIterator[bytes], leave: Callable[[], None]) -> None:
        super().__init__(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._leave = leave

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._leave()


@router.get(
    Route.READER_EVENTS.value,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(400, 404, 409)},
)
async def blog_events(
    request: Request,
    slug: str,
    since: Annotated[str | None, Query(max_length=MAX_POSITION)] = None,
    epoch: Annotated[str | None, Query(max_length=MAX_POSITION)] = None,
    last_event_id: Annotated[str | None, Header(max_length=MAX_POSITION)] = None,
    audience: str | None = None,
) -> StreamingResponse:
    """Server-Sent Events: the same events as the WebSocket, `id:` = `<offset>@<epoch>`;
    resumable with `Last-Event-ID` or `?since=&epoch=`; `?audience=no` is not counted in
    the audience. A resume from another epoch is answered 409: start over."""
    # The parameters above describe the query (OpenAPI) and bound its size; what they mean
    # is read by `ReaderRequest.parse`, as on every other way in.
    # No session dependency here: it would hold a pooled connection for as long as the
    # stream stays open.
    db, hub = services(request.app).db, services(request.app).hub
    settings: Settings = services(request.app).settings
    try:
        wanted = ReaderRequest.parse(slug, request.url.query, last_event_id)
        reader = QueueReader(settings.reader_buffer_bytes, "sse", wanted.in_audience)
        blog_id, position, greeting = await start_reading(hub, db, wanted, reader)
    except Refused as refused:
        raise HTTPException(refused.status, refused.reason) from None

    async def stream() -> AsyncIterator[bytes]:
        yield sse_hello(greeting)
        if wanted.since is not None:
            async for frame in replay(db, hub, blog_id, wanted.since, position):
                yield frame.sse
                reader.sent = frame.offset
        while True:
            try:
                batch = await asyncio.wait_for(reader.next_batch(), settings.heartbeat_seconds)
            except TimeoutError:
                yield SSE_KEEP_ALIVE
                continue
            if batch is None:
                return  # too slow: the browser reconnects with Last-Event-ID
            yield b"".join(frame.sse for frame in batch)

    return _EventStream(stream(), lambda: hub.leave(blog_id, reader))
