"""A reader's WebSocket: RFC 6455 by the websockets library's Sans-I/O layer, events by us.

The library validates the handshake (method, version, key, upgrade headers), negotiates
permessage-deflate, parses every frame the reader sends (masking, RSV bits, opcodes,
control frame sizes, fragmentation, close codes and reasons, UTF-8) and answers pings and
closes. We keep nothing of the handshake once it is done. A protocol object in the OPEN
state parses the frames that come; between frames (nearly always: a reader sends a pong
every heartbeat) none is kept, since an OPEN connection with no partial frame has no state
to remember, and an idle reader is then a few slots. We enforce what a reader may send:
control frames only, a few per heartbeat. Events never pass through the library per reader: each is
framed once per blog (`app.live.wire`) and the same bytes are written to every reader.
"""

import codecs
import logging
from collections.abc import Callable
from typing import Any

from websockets.exceptions import PayloadTooBig
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from app.live.edge.stream import READING, StreamProtocol, StreamState
from app.live.request import ReaderRequest, Refused
from app.live.wire import (
    DEFLATE,
    PING,
    CloseCode,
    Frames,
    close_frame,
    plain_websocket,
    websocket_frame,
)
from app.services import Services

log = logging.getLogger("liveupdates.readers")
_library_log = logging.getLogger("liveupdates.websockets")
# Readers may send control frames only (pongs, the odd ping, a close): at most 125 bytes of
# payload each. A longer frame is refused from its header, before its payload is read:
# 1009 for a message, 1002 for a control frame (RFC 6455 §5.5: a protocol error).
MAX_FRAME = 125
_CONTROL_BIT = 0x08  # of a frame's first byte: opcodes 8-15 are control frames (§5.2)
SLICE = 2048  # bytes parsed before the limits are checked again
_CONTROL = (Opcode.PING, Opcode.PONG)


def _refusal(message: WsFrame) -> tuple[int, str]:
    """How a reader's message is refused: readers have nothing to say (1003), and a text
    that is not UTF-8 breaks the RFC besides (1007, §8.1)."""
    if message.opcode is Opcode.TEXT:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(message.data, final=message.fin)
        except UnicodeDecodeError:
            return CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame"
    return CloseCode.UNSUPPORTED_DATA, "readers send no messages"


def _deflated(frame: Frames) -> bytes:
    return frame.ws_deflated(15)


def _deflated_with(bits: int) -> Callable[[Frames], bytes]:
    return lambda frame: frame.ws_deflated(bits)


class WebSocketProtocol(StreamProtocol):
    __slots__ = (
        "ws", "unparsed", "frame_head", "deflate_bits", "awaiting_pong", "control_frames",
    )  # fmt: skip
    kind = "websocket"
    INITIAL = StreamState.HANDSHAKE

    def __init__(self, services: Services, server_state: Any, address: str | None) -> None:
        super().__init__(services, server_state, address)
        self.ws: ServerProtocol | None = None  # the parser, while a frame is under way
        self.unparsed = 0  # bytes fed to it that are not yet whole frames
        self.frame_head = 0  # the first byte of the frame those bytes begin
        self.deflate_bits: int | None = None
        self.awaiting_pong = False
        self.control_frames = 0

    # --- the handshake --------------------------------------------------------------------

    def handshake(self, head: bytes, request: ReaderRequest | Refused, origin_ok: bool) -> None:
        """`head`: the request's head as received. Answer it; on 101 join the blog that
        `request` names (or close with the reason it cannot be served)."""
        shake = ServerProtocol(extensions=[DEFLATE], max_size=MAX_FRAME, logger=_library_log)
        shake.receive_data(head)
        events = shake.events_received()
        if not events or not isinstance(events[0], Request):
            response = shake.reject(400, "Failed to open a WebSocket connection.\n")
        else:
            response = shake.accept(events[0])
            if response.status_code == 101 and not origin_ok:
                response = shake.reject(403, "This Origin may not read this server's blogs.\n")
        shake.send_response(response)
        self._write_out(shake)
        if response.status_code != 101:
            self.close()
            return
        for extension in shake.extensions:
            if isinstance(extension, PerMessageDeflate):
                self.deflate_bits = extension.local_max_window_bits
        self.to(StreamState.JOINING)
        self.begin(request)

    def _parser(self) -> ServerProtocol:
        """A protocol OPEN from the start: the handshake's request is not kept in it."""
        ws = ServerProtocol(state=State.OPEN, max_size=MAX_FRAME, logger=_library_log)
        if self.deflate_bits is not None:
            # So that a compressed message is recognised, and refused, as a message.
            # Without context takeover it keeps no zlib state between messages.
            ws.extensions = [PerMessageDeflate(True, True, 15, self.deflate_bits)]
        return ws

    def wire(self) -> Callable[[Frames], bytes]:
        if self.deflate_bits is None:
            return plain_websocket
        return _deflated if self.deflate_bits == 15 else _deflated_with(self.deflate_bits)

    def accepted(self, greeting: bytes) -> None:
        # Sent uncompressed: it is for this reader alone (RFC 7692 allows either per message).
        assert self.transport is not None
        self.transport.write(websocket_frame(greeting))

    def refused(self, refused: Refused) -> None:
        self.close_with(refused.code, refused.reason)

    def failed(self) -> None:
        self.close_with(CloseCode.SERVER_ERROR, "server error; reconnect")

    # --- frames from the reader -------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        # In slices, so that a flood is cut off after its first frames, not after the
        # whole read (up to 256 KiB) has been parsed.
        for start in range(0, len(data), SLICE):
            if self.state not in READING:
                return
            self._frames(data[start : start + SLICE] if len(data) > SLICE else data)

    def _frames(self, data: bytes) -> None:
        ws = self.ws or self._parser()
        self.ws = ws
        ws.receive_data(data)
        self.unparsed += len(data)
        for event in ws.events_received():
            assert isinstance(event, WsFrame)  # once OPEN, the library yields frames only
            opcode = event.opcode
            self.unparsed -= 6 + len(event.data)  # a control frame: header, mask, payload
            if opcode in _CONTROL:
                self.control_frames += 1
                if opcode is Opcode.PONG:
                    self.awaiting_pong = False
            elif opcode is not Opcode.CLOSE:  # a message: readers have nothing to say
                ws.fail(*_refusal(event))
                break
        if 0 < self.unparsed <= len(data):  # a frame began in this slice: where it did
            self.frame_head = data[len(data) - self.unparsed]
        if isinstance(ws.parser_exc, PayloadTooBig) and self.frame_head & _CONTROL_BIT:
            # The library refused it from its header as too big (1009); for a control
            # frame the RFC asks for 1002. Its answer is replaced, not sent.
            ws.data_to_send()
            return self.close_with(CloseCode.PROTOCOL_ERROR, "control frame too long")
        budget = self.services.settings.reader_control_frames
        if self.control_frames > budget and ws.state is State.OPEN:
            ws.fail(CloseCode.POLICY_VIOLATION, "too many control frames")
        self._write_out(ws)
        if self.state in READING and ws.state is State.OPEN and self.unparsed == 0:
            self.ws = None  # between frames: nothing to remember

    def _write_out(self, protocol: ServerProtocol) -> None:
        """Write what the library has to send (pongs, a close), within the reader's bound."""
        for data in protocol.data_to_send():
            if not data:  # the library ends the connection
                self.close()
                return
            if not self.write(data):
                return

    # --- from us ----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.state not in READING:
            return
        self.control_frames = 0
        if self.awaiting_pong:
            log.info("a reader stopped answering pings; dropping it")
            transport.abort()
            return
        self.awaiting_pong = True
        self.write(PING)

    def close_with(self, code: int, reason: str) -> None:
        self.ws = None  # what the reader sends from now on is not read (CLOSING)
        self.close(close_frame(code, reason))

    def shutdown(self) -> None:
        self.close_with(CloseCode.SERVICE_RESTART, "server restarting; reconnect")
