"""The baseline: the ConnectionManager from FastAPI's WebSocket docs, awaiting each send.

Run: uvicorn bench.peers.naive_fastapi:app --port 8100
Readers connect to /ws; POST /publish {"body": ...} broadcasts an entry-shaped event.
"""

import json
from datetime import UTC, datetime

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

app = FastAPI()


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


manager = ConnectionManager()
offset = 0


class Post(BaseModel):
    body: str
    headline: str | None = None


@app.post("/publish", status_code=201)
async def publish(post: Post) -> dict[str, int]:
    global offset
    offset += 1
    now = datetime.now(UTC).isoformat()
    entry = {
        "id": offset, "blog": "bench", "headline": post.headline, "body": post.body,
        "html": f"<p>{post.body}</p>", "key_event": False, "pinned": False,
        "author": "Bench", "published_at": now, "updated_at": None, "version": 1,
    }  # fmt: skip
    await manager.broadcast(json.dumps({"type": "entry.created", "offset": offset, "entry": entry}))
    return {"offset": offset}


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)
