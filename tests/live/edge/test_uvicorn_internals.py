"""The reader edge (app/live/edge/) plugs into uvicorn below its public API: it subclasses
the httptools protocol and reads and sets its state, and the ASGI middleware reaches the
WebSocket protocol's transport. Every such name is listed here, so that an upgrade that
removes or renames one fails this test with the list of what is gone, before anything
else fails less clearly. pyproject.toml pins uvicorn to the versions this passes on."""

import ast
import inspect
import textwrap

from uvicorn.config import WS_PROTOCOLS
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import Server, ServerState

# (class, methods the edge overrides or calls, attributes it reads or sets)
RELIED_ON: list[tuple[type, list[str], list[str]]] = [
    (
        HttpToolsProtocol,
        # overridden: connection_made … shutdown; called: the private ones
        ["connection_made", "connection_lost", "data_received", "on_message_begin", "on_url",
         "on_header", "on_headers_complete", "on_body", "on_message_complete", "shutdown",
         "_unset_keepalive_if_required", "_should_upgrade", "_unsupported_upgrade_warning",
         "handle_websocket_upgrade"],
        ["parser", "loop", "transport", "client", "connections", "server_state", "pipeline",
         "cycle", "url", "headers"],
    ),
    (RequestResponseCycle, [], ["keep_alive", "response_complete"]),
    (WebSocketsSansIOProtocol, ["send"], ["transport"]),  # `send.__self__.transport`
    (ServerState, [], ["connections"]),
]  # fmt: skip


def _assigned(cls: type) -> set[str]:
    """Attributes a class's methods set on `self` (annotated or not)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    names = set()
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                names.add(target.attr)
    return names


def test_every_uvicorn_internal_the_edge_relies_on_is_there() -> None:
    gone = []
    for cls, methods, attributes in RELIED_ON:
        gone += [f"{cls.__qualname__}.{name}()" for name in methods if not hasattr(cls, name)]
        assigned = _assigned(cls)
        gone += [f"{cls.__qualname__}.{name}" for name in attributes if name not in assigned]
    # How uvicorn builds our protocol (app/live/edge/http.py) and stops connections.
    parameters = list(inspect.signature(HttpToolsProtocol.__init__).parameters)
    if parameters[:5] != ["self", "config", "server_state", "app_state", "_loop"]:
        gone.append(f"HttpToolsProtocol(config, server_state, app_state, _loop): {parameters}")
    if "connection.shutdown()" not in inspect.getsource(Server.shutdown):
        gone.append("Server.shutdown calling each connection's shutdown()")
    if "websockets-sansio" not in WS_PROTOCOLS:
        gone.append("the 'websockets-sansio' WebSocket implementation (app/live/edge/options.py)")
    assert gone == [], f"uvicorn no longer has what the reader edge relies on: {gone}"
