"""The reader side: events delivered to every reader of a blog, in offset order.

- `hub`: per-blog channels fed by this instance and the `broker`; `wire`: each event's
  bytes, built once; `readers`: bounded readers that are written to, never awaited.
- `joining`: a reader's way in (hello, replay from `since`, then live) for every transport.
- `edge/`: the sockets themselves under uvicorn (HTTP, WebSocket and SSE readers, limits).
- `asgi`: the same for other servers and test clients, through ASGI (and the SSE route).
"""
