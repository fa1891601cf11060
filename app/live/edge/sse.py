"""A reader's Server-Sent Events stream, served like a WebSocket reader: no task, no queue.

The HTTP protocol hands the connection over once the request head is parsed. The answer
is delimited by the connection's end (no chunked framing), so every SSE reader of a blog is
written the same pre-built bytes. A reader says nothing after its request: anything it
sends ends the stream.
"""

from collections.abc import Callable
from typing import Any

from app.live.edge.answers import error_answer, http_answer
from app.live.edge.stream import StreamProtocol, StreamState
from app.live.request import Refused
from app.live.wire import SSE_KEEP_ALIVE, SSE_RESTART, Frames, server_sent_event, sse_hello
from app.services import Services


class SseProtocol(StreamProtocol):
    __slots__ = ("headers",)
    kind = "sse"

    def __init__(
        self,
        services: Services,
        server_state: Any,
        address: str | None,
        headers: list[tuple[str, str]],
    ) -> None:
        super().__init__(services, server_state, address)
        self.headers = headers  # the answer's own (security headers, the request id)

    def wire(self) -> Callable[[Frames], bytes]:
        return server_sent_event

    def accepted(self, greeting: bytes) -> None:
        assert self.transport is not None
        head = http_answer(
            200,
            [
                *self.headers,
                ("content-type", "text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
                ("x-accel-buffering", "no"),
            ],
            length=False,
        )
        self.transport.write(head + sse_hello(greeting))

    def refused(self, refused: Refused) -> None:
        self.close(error_answer(refused.status, refused.reason, self.headers))

    @property
    def answered(self) -> bool:
        """The 200 and the hello have been written."""
        return self.state in (StreamState.REPLAYING, StreamState.LIVE)

    def failed(self) -> None:
        if self.answered:
            self.close()
        else:
            detail = "the database is unavailable; retry shortly"
            self.close(error_answer(503, detail, self.headers, {"retry-after": "2"}))

    def data_received(self, data: bytes) -> None:
        self.close()

    def heartbeat(self) -> None:
        if self.answered:
            self.write(SSE_KEEP_ALIVE)

    def shutdown(self) -> None:
        if self.answered:
            self.close(SSE_RESTART)
        else:
            restarting = "the server is restarting; retry shortly"
            self.close(error_answer(503, restarting, self.headers, {"retry-after": "1"}))
