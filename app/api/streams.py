"""Readers' Server-Sent Events through the framework, when the server is not uvicorn with
`app.live.edge` (other servers, test clients): the route the OpenAPI document describes."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api.errors import errors
from app.config import Settings
from app.live.joining import replay, start_reading
from app.live.readers import QueueReader
from app.live.request import MAX_POSITION, ReaderRequest, Refused
from app.live.routes import Route
from app.live.wire import SSE_KEEP_ALIVE, sse_hello
from app.services import services

router = APIRouter(tags=["live"])


class EventStream(StreamingResponse):
    """Server-Sent Events to one follower (a reader that joined its blog, a newsroom desk):
    it leaves when the answer ends, however it ends (sent whole, cut off, or never
    started)."""

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

    return EventStream(stream(), lambda: hub.leave(blog_id, reader))
