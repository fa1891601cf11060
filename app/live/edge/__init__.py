"""The reader edge: what faces the internet before the application does.

uvicorn runs `http.HttpProtocol` for every connection. It bounds each request's head in
size and time, counts every socket per address, and hands readers' connections to
protocols of their own: `websocket.WebSocketProtocol` (the websockets library's Sans-I/O
layer parses every byte a reader sends) and `sse.SseProtocol`. Readers then cost a few
slots each, and events reach them as pre-built bytes written straight to their sockets.
"""

# uvicorn hands the lifespan's state to its protocols: they find the application here.
APP_STATE_KEY = "liveupdates_app"
