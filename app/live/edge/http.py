"""uvicorn's httptools protocol, bounded before a request is a request (`--http` for uvicorn).

httptools (llhttp) parses the bytes; this class adds what uvicorn leaves out:
- every socket is counted against its address from the moment it is accepted (a trusted
  proxy's connections count in the total only; their readers count by forwarded address);
- a request's head must arrive within `REQUEST_HEAD_SECONDS` and `REQUEST_HEAD_BYTES`
  (408 and 431 otherwise), a silent socket is closed after the same time;
- readers' WebSocket upgrades and SSE requests are paced per address, refused while the
  process is short of file descriptors, and then handed to protocols of their own.
"""

import asyncio
from enum import Enum
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.live.edge import APP_STATE_KEY
from app.live.edge.admission import Admission
from app.live.edge.answers import error_answer
from app.live.edge.forwarded import client_address
from app.live.edge.lifecycle import moved
from app.live.edge.sse import SseProtocol
from app.live.edge.websocket import WebSocketProtocol
from app.live.joining import origin_allowed
from app.live.request import ReaderRequest, Refused
from app.live.routes import Route
from app.live.routes import match as match_route
from app.ops.observability import request_id_of
from app.ops.security import security_headers
from app.services import services

# On shutdown, how long an idle connection is kept for bytes that already arrived.
DRAIN_READ_SECONDS = 0.05


class HeadTooLarge(Exception):
    pass


class _ReaderRequestEnds(Exception):
    """Stops the parser once an SSE reader's request is complete: the rest is not HTTP."""


class Phase(Enum):
    """Where a connection is, as the edge sees it; `ALLOWED` says where each may go."""

    BETWEEN = "no request head under way (the framework may be answering one)"
    HEAD = "a request head is arriving, bounded in time and size"
    SSE_READER = "an SSE reader's request is complete: to be handed over"
    HANDED_OVER = "a reader protocol owns the socket now"
    ANSWERED = "answered at the edge (refused, or a bad head): closing"
    CLOSED = "the connection is gone"


_P = Phase
ALLOWED: dict[Phase, frozenset[Phase]] = {
    _P.BETWEEN: frozenset({_P.HEAD, _P.ANSWERED, _P.CLOSED}),
    _P.HEAD: frozenset({_P.BETWEEN, _P.SSE_READER, _P.HANDED_OVER, _P.ANSWERED, _P.CLOSED}),
    _P.SSE_READER: frozenset({_P.HANDED_OVER, _P.ANSWERED, _P.CLOSED}),
    _P.HANDED_OVER: frozenset(),
    _P.ANSWERED: frozenset({_P.CLOSED}),
    _P.CLOSED: frozenset(),
}


class HttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.edge_app: Any = app_state.get(APP_STATE_KEY)
        self.phase = Phase.BETWEEN
        self.counted = False  # this socket is counted in admission, as `counted_as`
        self.counted_as: str | None = None
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_seen = 0  # bytes fed since the head began (an upper bound)
        self.head_size = 0  # bytes of the head parsed so far (exact)
        self.sse: ReaderRequest | Refused | None = None  # in SSE_READER: what it asks
        self.draining = False  # the server is stopping: answer what came, then close

    def to(self, phase: Phase) -> None:
        self.phase = moved(ALLOWED, self.phase, phase, "an HTTP connection")

    @property
    def in_head(self) -> bool:
        return self.phase is Phase.HEAD

    # --- accounting ---------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        settings: Settings = services(self.edge_app).settings
        return settings

    @property
    def admission(self) -> Admission:
        admission: Admission = services(self.edge_app).admission
        return admission

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.edge_app is None:
            return
        peer = self.client[0] if self.client else ""
        address = None if peer in self.settings.trusted_proxies else peer
        if not self.admission.open(address):
            self._answer(429, "too many connections from your address", {"retry-after": "30"})
            return
        self.counted, self.counted_as = True, address
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.to(Phase.CLOSED)
        self._disarm_head_timer()
        self._uncount()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.admission.close(self.counted_as)

    # --- the head: in bounded time and size ---------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self.head_timer is None and self.edge_app is not None:
            self.head_timer = self.loop.call_later(
                self.settings.request_head_seconds, self._head_timed_out
            )

    def _disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.in_head:
            self._answer(408, "the request head did not arrive in time")
        elif self.cycle is None:
            self.transport.close()  # connected and said nothing

    def on_message_begin(self) -> None:
        if self.phase is not Phase.BETWEEN:
            raise _ReaderRequestEnds  # something after a reader's request: not read
        super().on_message_begin()
        self.to(Phase.HEAD)
        self.head_seen, self.head_size = 0, 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_grows(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_grows(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _head_grows(self, size: int) -> None:
        self.head_size += size
        if self.edge_app is not None and self.head_size > self.settings.request_head_bytes:
            raise HeadTooLarge

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        if self.edge_app is not None and self._is_sse_reader():
            self.to(Phase.SSE_READER)
            return  # no ASGI cycle: handed over in data_received
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self.to(Phase.BETWEEN)  # the framework's now (an upgrade is ours, in _upgrade)
        super().on_headers_complete()
        if self.draining:
            self.cycle.keep_alive = False

    # --- stopping -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping. A request under way is answered, then the connection
        closes; an idle keep-alive connection is closed once what already reached us has
        been read, since that may be a request, which is then answered too."""
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif not self.in_head:
            self.loop.call_later(DRAIN_READ_SECONDS, self._close_if_idle)

    def _close_if_idle(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.in_head and not self.transport.is_closing():
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        if self.phase is not Phase.SSE_READER:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.phase is not Phase.SSE_READER:
            super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self._should_upgrade():
                self._upgrade(data[upgrade.args[0] :])
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as error:
            if self.phase is Phase.SSE_READER:
                pass  # stopped after a reader's request
            elif isinstance(error.__context__, HeadTooLarge):
                self._answer(431, "the request head is too large")
                return
            else:
                self._answer(400, "invalid HTTP request")
                return
        if self.phase is Phase.SSE_READER:
            self._hand_to_sse()
        elif self.in_head and self.edge_app is not None:
            self.head_seen += len(data)
            if self.head_seen > self.settings.request_head_bytes:
                self._answer(431, "the request head is too large")

    def _answer(self, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
        """Answer before the framework and end the connection."""
        if self.phase is not Phase.ANSWERED:
            self.to(Phase.ANSWERED)
        self._disarm_head_timer()
        if not self.transport.is_closing():
            headers = security_headers(self.settings) if self.edge_app is not None else []
            self.transport.write(error_answer(status, detail, headers, extra))
            self.transport.close()

    # --- readers ------------------------------------------------------------------------------

    def _is_sse_reader(self) -> bool:
        # Most requests are pages and API calls: told apart from the raw target first, so
        # that only event streams have their URL parsed here as well as by uvicorn.
        if not self.url.startswith(b"/blogs/") or b"/events" not in self.url:
            return False
        if self.parser.get_method() != b"GET" or self.parser.should_upgrade():
            return False
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return False  # a request before it is still being answered: the framework serves it
        url = httptools.parse_url(self.url)
        found = match_route(unquote(url.path.decode("latin-1")))
        if found is None or found.route is not Route.READER_EVENTS:
            return False
        query = (url.query or b"").decode("latin-1")
        try:
            self.sse = ReaderRequest.parse(found.slug, query, self._header(b"last-event-id"))
        except Refused as refused:
            self.sse = refused
        return True

    def _header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def _admit_reader(self) -> bool:
        """Count the reader by the address it reads for; pace it; keep the reserve."""
        if self.draining:
            self._answer(503, "this server is restarting; retry", {"retry-after": "1"})
            return False
        peer = self.client[0] if self.client else ""
        settings = self.settings
        address = client_address(peer, self._header(b"x-forwarded-for"), settings.trusted_proxies)
        if self.counted_as != address:
            if not self.admission.move(self.counted_as, address):
                self._answer(429, "too many connections from your address", {"retry-after": "30"})
                return False
            self.counted_as = address
        if not self.admission.may_connect(address):
            self._answer(429, "too many reader connections; retry shortly", {"retry-after": "1"})
            return False
        if not self.admission.room_for_reader():
            self._answer(503, "this server has no room for more readers", {"retry-after": "5"})
            return False
        return True

    def _take_over(self) -> tuple[Any, str | None]:
        """This socket leaves uvicorn's HTTP handling; its reader protocol owns its count."""
        self.to(Phase.HANDED_OVER)
        self.connections.discard(self)
        self._disarm_head_timer()
        address, self.counted = self.counted_as, False
        return self.edge_app, address

    def _hand_to_sse(self) -> None:
        request = self.sse
        assert request is not None
        if self.transport.is_closing() or not self._admit_reader():
            return
        headers = [
            *security_headers(self.settings),
            ("x-request-id", request_id_of(self.headers)),
        ]
        app, address = self._take_over()
        reader = SseProtocol(services(app), self.server_state, address, headers)
        reader.connection_made(self.transport)
        self.transport.set_protocol(reader)
        reader.begin(request)

    def _upgrade(self, rest: bytes) -> None:
        self._disarm_head_timer()
        if self.edge_app is None:
            self.handle_websocket_upgrade()
            return
        url = httptools.parse_url(self.url)
        found = match_route(unquote(url.path.decode("latin-1")))
        if found is None or found.route is not Route.READER_SOCKET:
            self._answer(404, "no WebSocket here")
            return
        host = self._header(b"host")
        if not host:
            self._answer(400, "a Host header is required")
            return
        if not self._admit_reader():
            return
        origin_ok = origin_allowed(self._header(b"origin"), host, self.settings)
        request: ReaderRequest | Refused
        try:
            request = ReaderRequest.parse(found.slug, (url.query or b"").decode("latin-1"))
        except Refused as refused:
            request = refused  # told after the handshake, with its close code
        version = self.parser.get_http_version()
        head = [self.parser.get_method(), b" ", self.url, f" HTTP/{version}\r\n".encode()]
        for name, value in self.headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        app, address = self._take_over()
        reader = WebSocketProtocol(services(app), self.server_state, address)
        reader.connection_made(self.transport)
        self.transport.set_protocol(reader)
        reader.handshake(b"".join(head), request, origin_ok)
        if rest:
            reader.data_received(rest)
