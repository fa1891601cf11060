"""Readers through ASGI: the WebSocket middleware and the SSE route that serve readers when
the server is not uvicorn with `app.live.edge` (other servers, test clients)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlmodel import col, select
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.api.errors import errors
from app.config import Settings
from app.db import Database
from app.live.hub import Hub
from app.live.joining import (
    Refused,
    in_audience,
    origin_allowed,
    parse_since,
    replay,
    start_reading,
)
from app.live.readers import QueueReader, TransportReader
from app.live.wire import SLOW_READER_REASON, CloseCode
from app.models import Blog
from app.services import services

router = APIRouter(tags=["live"])


class ReaderSocketsMiddleware:
    """Outermost ASGI middleware serving readers' WebSockets at /ws/blogs/{slug}.

    Readers are the many; each open one costs memory for as long as it stays. So they are
    served here, in front of the framework, with the fewest objects per connection: no
    router, no dependency stack, and under uvicorn no task or queue of our own: events
    are written straight to the connection's transport (see readers.py).
    """

    PREFIX = "/ws/blogs/"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or not scope["path"].startswith(self.PREFIX):
            await self.app(scope, receive, send)
            return
        slug = scope["path"][len(self.PREFIX) :]
        # uvicorn's `send` is a method of its protocol object, which holds the transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        # A reader that vanished mid-send surfaces as OSError (uvicorn's ClientDisconnected).
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await serve_reader(scope["app"], slug, scope, receive, send, transport)


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

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    limit = settings.reader_buffer_bytes
    counted = in_audience(query.get("audience", [None])[-1])
    reader: TransportReader | QueueReader = (
        TransportReader(transport, limit, in_audience=counted)
        if transport is not None and hasattr(transport, "get_write_buffer_size")
        else QueueReader(limit, "websocket", counted)
    )
    try:
        blog_id, position, greeting, since = await start_reading(
            hub, db, slug, query.get("since", [None])[-1], reader
        )
    except Refused as refused:
        return await close(refused.code, refused.reason)
    try:
        await send_text(greeting)
        if since is not None:
            async for frame in replay(db, hub, blog_id, since, position):
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


@router.get(
    "/blogs/{slug}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(400, 404)},
)
async def blog_events(
    request: Request,
    slug: str,
    since: Annotated[str | None, Query(max_length=18)] = None,
    last_event_id: Annotated[str | None, Header(max_length=18)] = None,
    audience: str | None = None,
) -> StreamingResponse:
    """Server-Sent Events: the same events as the WebSocket, `id:` = offset; resumable
    with `Last-Event-ID` or `?since=`; `?audience=no` is not counted in the audience."""
    # No session dependency here: it would hold a pooled connection for as long as the
    # stream stays open.
    db, hub = services(request.app).db, services(request.app).hub
    since_raw = last_event_id if last_event_id is not None else since
    try:
        start = parse_since(since_raw)
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    blog_id = await hub.resolve(slug)
    if blog_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no blog {slug!r}")
    if start is not None:
        async with db.read() as session:
            latest = await session.scalar(
                select(col(Blog.last_offset)).where(col(Blog.id) == blog_id)
            )
        if start > (latest or 0):
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"since={start} is beyond the latest offset {latest}"
            )
    settings: Settings = services(request.app).settings

    async def stream() -> AsyncIterator[bytes]:
        reader = QueueReader(settings.reader_buffer_bytes, "sse", in_audience(audience))
        try:
            blog_id, position, greeting, start = await start_reading(
                hub, db, slug, since_raw, reader
            )
        except Refused:
            return
        try:
            yield b"retry: 2000\ndata: %b\n\n" % greeting
            if start is not None:
                async for frame in replay(db, hub, blog_id, start, position):
                    yield frame.sse
                    reader.sent = frame.offset
            while True:
                try:
                    batch = await asyncio.wait_for(reader.next_batch(), settings.heartbeat_seconds)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if batch is None:
                    return  # too slow: the browser reconnects with Last-Event-ID
                yield b"".join(frame.sse for frame in batch)
        finally:
            hub.leave(blog_id, reader)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
