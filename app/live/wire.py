"""The bytes readers receive, and the close codes they may see.

An event is encoded once, as a `Frame`; each of its wire forms (a WebSocket frame, the same
compressed with permessage-deflate, a Server-Sent Event) is built on first use and then
handed to every reader that takes that form. WebSocket frames are built by the websockets
library; nothing here parses bytes from a client.
"""

from collections.abc import Callable, Sequence
from enum import IntEnum

from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Close, Opcode
from websockets.frames import Frame as WsFrame

from app.store.eventlog import LoggedEvent


class CloseCode(IntEnum):
    """The close codes this server sends (RFC 6455 §7.4, and its own in the 4000s); the
    websockets library sends 1002, 1007 and 1009 for most of what breaks the RFC."""

    PROTOCOL_ERROR = 1002  # e.g. a control frame over 125 bytes
    UNSUPPORTED_DATA = 1003  # a reader sent a message: readers have nothing to say
    INVALID_DATA = 1007  # a reader's text message is not UTF-8
    POLICY_VIOLATION = 1008  # e.g. too many control frames
    SERVER_ERROR = 1011
    SERVICE_RESTART = 1012
    BAD_OFFSET = 4400
    STREAM_CHANGED = 4409  # the epoch resumed from is not the blog's: start over
    NO_SUCH_BLOG = 4404
    ARCHIVED = 4410  # the blog is archived: its page is all there is; do not reconnect
    SLOW_READER = 4008


SLOW_READER_REASON = "too slow; reconnect with ?since=<last offset>"
ARCHIVED_REASON = "this live blog is archived: its page has it all"

# Readers get permessage-deflate without context takeover (RFC 7692 §7.1.1.1): each message
# is compressed on its own, so one compressed frame serves every reader that negotiated it.
DEFLATE = ServerPerMessageDeflateFactory(server_no_context_takeover=True)
# Control frames carry at most 125 bytes; a close frame's reason, 123 after its code.
_MAX_REASON_BYTES = 123


def websocket_frame(payload: bytes, deflate_bits: int | None = None) -> bytes:
    """A final text frame as a server sends it (unmasked); compressed when `deflate_bits`
    names the window the reader agreed to."""
    extensions = (
        [PerMessageDeflate(True, True, 15, deflate_bits)] if deflate_bits is not None else []
    )
    return WsFrame(Opcode.TEXT, payload).serialize(mask=False, extensions=extensions)


def _whole_characters(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[:_MAX_REASON_BYTES].decode(errors="ignore")


def close_frame(code: int, reason: str) -> bytes:
    """A close frame; the reason is cut to whole characters that fit."""
    payload = Close(code, _whole_characters(reason)).serialize()
    return WsFrame(Opcode.CLOSE, payload).serialize(mask=False)


PING = WsFrame(Opcode.PING, b"").serialize(mask=False)
SSE_KEEP_ALIVE = b": keep-alive\n\n"
SSE_RESTART = b"retry: 500\n: server restarting; reconnect\n\n"


def sse_data(data: bytes) -> bytes:
    """An SSE event with no id: it moves no reader's position."""
    return b"data: %b\n\n" % data


def sse_hello(greeting: bytes) -> bytes:
    return b"retry: 2000\ndata: %b\n\n" % greeting


NOTICE = -1  # the offset of frames that are not logged events (the live audience)


def sse_id(offset: int, epoch: str) -> bytes:
    """An SSE event's id: the offset and the epoch it counts in (`12@3f9a0c`), so that a
    browser's Last-Event-ID resumes the same stream or none."""
    return b"%d@%b" % (offset, epoch.encode()) if epoch else b"%d" % offset


class Frame:
    """An event, encoded once; its wire forms are built once each, on first use. A notice
    (offset NOTICE: the live audience) is no logged event: it is never replayed, and its
    SSE form carries no id, so that it moves no reader's position."""

    __slots__ = ("offset", "type", "data", "epoch", "_ws", "_sse", "_deflated")

    def __init__(self, offset: int, data: bytes, type: str = "", epoch: str = "") -> None:
        self.offset = offset
        self.type = type  # as stored with the event (app/domain/events.py)
        self.data = data
        self.epoch = epoch  # the blog's stream (its SSE id carries it)
        self._ws: bytes | None = None
        self._sse: bytes | None = None
        self._deflated: dict[int, bytes] | None = None

    @classmethod
    def of(cls, event: LoggedEvent, epoch: str) -> "Frame":
        return cls(event.offset, event.data, event.type, epoch)

    @property
    def ws(self) -> bytes:
        if self._ws is None:
            self._ws = websocket_frame(self.data)
        return self._ws

    def ws_deflated(self, bits: int) -> bytes:
        """The frame compressed for readers whose server window is 2**bits (nearly all 15)."""
        deflated = self._deflated
        if deflated is None:
            deflated = self._deflated = {}
        frame = deflated.get(bits)
        if frame is None:
            frame = deflated[bits] = websocket_frame(self.data, bits)
        return frame

    @property
    def first(self) -> int:
        return self.offset

    @property
    def frames(self) -> "tuple[Frame, ...]":
        return (self,)

    @property
    def size(self) -> int:
        return len(self.data)

    def after(self, offset: int) -> "Frame":
        return self  # one frame: taken whole or not at all

    @property
    def sse(self) -> bytes:
        if self._sse is None:
            if self.offset == NOTICE:
                self._sse = sse_data(self.data)
            else:
                self._sse = b"id: %b\ndata: %b\n\n" % (sse_id(self.offset, self.epoch), self.data)
        return self._sse


class Batch:
    """Consecutive frames a reader takes at once: their wire forms joined, so that k
    frames waiting for a reader (a burst, a gap filled, a replay) cost one write, not k.
    Like a frame, each form is built once, on first use, and shared by every reader that
    takes the same frames in the same form."""

    __slots__ = ("frames", "first", "offset", "_forms", "_after")

    def __init__(self, frames: "tuple[Frame, ...]") -> None:
        self.frames = frames
        self.first = frames[0].offset
        self.offset = frames[-1].offset
        self._forms: dict[object, bytes] = {}
        self._after: dict[int, Frames] = {}

    @staticmethod
    def of(frames: "Sequence[Frame]") -> "Frames":
        return frames[0] if len(frames) == 1 else Batch(tuple(frames))

    @property
    def size(self) -> int:
        return sum(len(frame.data) for frame in self.frames)

    def after(self, offset: int) -> "Frames":
        """The frames past `offset` (a reader that has the first few already)."""
        rest = self._after.get(offset)
        if rest is None:
            rest = self._after[offset] = Batch.of(
                [frame for frame in self.frames if frame.offset > offset]
            )
        return rest

    def _joined(self, key: object, form: "Callable[[Frame], bytes]") -> bytes:
        data = self._forms.get(key)
        if data is None:
            data = self._forms[key] = b"".join(form(frame) for frame in self.frames)
        return data

    @property
    def ws(self) -> bytes:
        return self._joined("ws", plain_websocket)

    @property
    def sse(self) -> bytes:
        return self._joined("sse", server_sent_event)

    def ws_deflated(self, bits: int) -> bytes:
        return self._joined(bits, lambda frame: frame.ws_deflated(bits))


# What readers take: one frame, or several in a row.
Frames = Frame | Batch


def plain_websocket(frames: Frames) -> bytes:
    return frames.ws


def server_sent_event(frames: Frames) -> bytes:
    return frames.sse
