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
from typing import Any
from urllib.parse import parse_qs, unquote

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.limits import client_address
from app.live.edge import APP_STATE_KEY
from app.live.edge.admission import Admission
from app.live.edge.answers import error_answer
from app.live.edge.sse import SseReader
from app.live.edge.websocket import WebSocketReader
from app.live.joining import in_audience, origin_allowed
from app.ops.observability import request_id_of
from app.ops.security import security_headers
from app.services import services

WS_PREFIX = "/ws/blogs/"
SSE_SUFFIX = "/events"
PAGE_PREFIX = "/blogs/"
# On shutdown, how long an idle connection is kept for bytes that already arrived.
DRAIN_READ_SECONDS = 0.05


class HeadTooLarge(Exception):
    pass


class _ReaderRequest(Exception):
    """Stops the parser once an SSE reader's request is complete: the rest is not HTTP."""


def _sse_slug(path: str) -> str | None:
    if path.startswith(PAGE_PREFIX) and path.endswith(SSE_SUFFIX):
        slug = path[len(PAGE_PREFIX) : -len(SSE_SUFFIX)]
        if slug and "/" not in slug:
            return slug
    return None


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
        self.counted = False  # this socket is counted in admission, as `counted_as`
        self.counted_as: str | None = None
        self.head_timer: asyncio.TimerHandle | None = None
        self.in_head = False
        self.head_seen = 0  # bytes fed since the head began (an upper bound)
        self.head_size = 0  # bytes of the head parsed so far (exact)
        # (slug, since, in the audience) of an SSE reader
        self.sse: tuple[str, str | None, bool] | None = None
        self.draining = False  # the server is stopping: answer what came, then close

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
        if self.sse is not None:
            raise _ReaderRequest  # something after a reader's request: not read
        super().on_message_begin()
        self.in_head, self.head_seen, self.head_size = True, 0, 0
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
        self.in_head = False
        self._disarm_head_timer()
        if self.edge_app is not None and self._is_sse_reader():
            return  # no ASGI cycle: handed over in data_received
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
        if self.sse is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.sse is None:
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
            if self.sse is not None:
                pass  # stopped after a reader's request
            elif isinstance(error.__context__, HeadTooLarge):
                self._answer(431, "the request head is too large")
                return
            else:
                self._answer(400, "invalid HTTP request")
                return
        if self.sse is not None:
            self._hand_to_sse()
        elif self.in_head and self.edge_app is not None:
            self.head_seen += len(data)
            if self.head_seen > self.settings.request_head_bytes:
                self._answer(431, "the request head is too large")

    def _answer(self, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
        """Answer before the framework and end the connection."""
        self.in_head = False
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
        slug = _sse_slug(unquote(url.path.decode("latin-1")))
        if slug is None:
            return False
        query = parse_qs((url.query or b"").decode("latin-1"), keep_blank_values=True)
        since = self._header(b"last-event-id")
        if since is None:
            since = query.get("since", [None])[-1]
        self.sse = (slug, since, in_audience(query.get("audience", [None])[-1]))
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
        self.connections.discard(self)
        self._disarm_head_timer()
        address, self.counted = self.counted_as, False
        return self.edge_app, address

    def _hand_to_sse(self) -> None:
        assert self.sse is not None
        slug, since, counted = self.sse
        if self.transport.is_closing() or not self._admit_reader():
            return
        headers = [
            *security_headers(self.settings),
            ("x-request-id", request_id_of(self.headers)),
        ]
        app, address = self._take_over()
        reader = SseReader(services(app), self.server_state, address, headers)
        reader.in_audience = counted
        reader.connection_made(self.transport)
        self.transport.set_protocol(reader)
        reader.begin(unquote(slug), since)

    def _upgrade(self, rest: bytes) -> None:
        self.in_head = False
        self._disarm_head_timer()
        if self.edge_app is None:
            self.handle_websocket_upgrade()
            return
        url = httptools.parse_url(self.url)
        path = unquote(url.path.decode("latin-1"))
        if not path.startswith(WS_PREFIX) or "/" in path[len(WS_PREFIX) :]:
            self._answer(404, "no WebSocket here")
            return
        host = self._header(b"host")
        if not host:
            self._answer(400, "a Host header is required")
            return
        if not self._admit_reader():
            return
        settings = self.settings
        origin_ok = origin_allowed(self._header(b"origin"), host, settings)
        query = parse_qs((url.query or b"").decode("latin-1"), keep_blank_values=True)
        since = query.get("since", [None])[-1]
        version = self.parser.get_http_version()
        head = [self.parser.get_method(), b" ", self.url, f" HTTP/{version}\r\n".encode()]
        for name, value in self.headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        app, address = self._take_over()
        reader = WebSocketReader(services(app), self.server_state, address)
        reader.in_audience = in_audience(query.get("audience", [None])[-1])
        reader.connection_made(self.transport)
        self.transport.set_protocol(reader)
        reader.handshake(b"".join(head), path[len(WS_PREFIX) :], since, origin_ok)
        if rest:
            reader.data_received(rest)
