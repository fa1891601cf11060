"""The best pure-Python case: the websockets library's own server with `broadcast()`.

Run: python -m bench.peers.websockets_broadcast PORT
Readers connect to any path; POST /publish {"body": ...} broadcasts an entry-shaped event.
Readers offering permessage-deflate get it (the library's defaults: compressed per reader).
"""

import asyncio
import json
import sys
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import unquote

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

clients: set[ServerConnection] = set()
offset = 0


def publish(body: str, headline: str | None) -> int:
    global offset
    offset += 1
    entry = {
        "id": offset, "blog": "bench", "headline": headline, "body": body,
        "html": f"<p>{body}</p>", "key_event": False, "pinned": False, "author": "Bench",
        "published_at": datetime.now(UTC).isoformat(), "updated_at": None, "version": 1,
    }  # fmt: skip
    broadcast(clients, json.dumps({"type": "entry.created", "offset": offset, "entry": entry}))
    return offset


async def handler(connection: ServerConnection) -> None:
    clients.add(connection)
    try:
        await connection.wait_closed()
    finally:
        clients.discard(connection)


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    """Plain HTTP: the publish endpoint (websockets answers GETs; the body rides in a header)."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    if not request.path.startswith("/publish"):
        return Response(HTTPStatus.OK.value, "OK", Headers(), b"ok")
    body = unquote(request.headers.get("X-Body", ""))
    answer = json.dumps({"offset": publish(body, request.headers.get("X-Headline"))})
    return Response(HTTPStatus.CREATED.value, "Created", Headers(), answer.encode())


async def main(port: int) -> None:
    async with serve(
        handler, "127.0.0.1", port, process_request=process_request, compression="deflate",
        max_queue=16,
    ) as server:  # fmt: skip
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
