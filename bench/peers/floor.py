"""The floor: a bare asyncio server that writes one pre-built frame to every socket.

No framework, no database, no bounds: the least work a server can do to fan an event
out over WebSockets. Readers connect to any path; POST /publish sends the next event.
A reader offering permessage-deflate gets it without context takeover, and every such
reader the same frame, compressed once: the floor for compressed readers too.
Run: python -m bench.peers.floor PORT
"""

import asyncio
import base64
import hashlib
import json
import sys
import zlib
from datetime import UTC, datetime

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, first: int = 0x81) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def deflated_frame(payload: bytes) -> bytes:
    """RFC 7692: raw deflate, the trailing empty block cut, RSV1 set."""
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return frame(data[:-4], 0xC1)


class Server:
    def __init__(self) -> None:
        self.readers: set[asyncio.Transport] = set()
        self.deflating: set[asyncio.Transport] = set()
        self.offset = 0

    def publish(self, body: str) -> int:
        self.offset += 1
        entry = {
            "id": self.offset, "blog": "bench", "headline": None, "body": body,
            "html": f"<p>{body}</p>", "key_event": False, "pinned": False, "author": "Bench",
            "published_at": datetime.now(UTC).isoformat(), "updated_at": None, "version": 1,
        }  # fmt: skip
        payload = json.dumps(
            {"type": "entry.created", "offset": self.offset, "entry": entry}
        ).encode()
        data = frame(payload)
        for transport in self.readers:
            transport.write(data)
        if self.deflating:
            data = deflated_frame(payload)
            for transport in self.deflating:
                transport.write(data)
        return self.offset


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.reader = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.reader:
            return  # pongs and the like
        self.buffer += data
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        assert self.transport is not None
        if lines[0].startswith("POST"):
            length = int(headers.get("content-length", "0"))
            if len(rest) < length:
                return
            body = json.loads(rest[:length] or b"{}").get("body", "")
            answer = json.dumps({"offset": self.server.publish(body)}).encode()
            self.transport.write(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(answer), answer)
            )
            self.buffer = b""
            return
        if headers.get("upgrade", "").lower() != "websocket":
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.buffer = b""
            return
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()
        )
        deflate = "permessage-deflate" in headers.get("sec-websocket-extensions", "")
        extension = (
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
            if deflate
            else b""
        )
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: %b\r\n%b\r\n" % (accept, extension)
        )
        self.reader = True
        (self.server.deflating if deflate else self.server.readers).add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.reader and self.transport is not None:
            self.server.readers.discard(self.transport)
            self.server.deflating.discard(self.transport)


async def main(port: int) -> None:
    server = Server()
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Connection(server), "127.0.0.1", port, backlog=4096)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
