"""A TCP path of our own between a server under test and a dependency (Postgres, Redis),
which the test can black-hole (bytes are taken and nothing is forwarded, as on a partitioned
network: no error, no answer) and heal, or cut (every connection reset)."""

import asyncio
import contextlib


class _Pipe(asyncio.Protocol):
    def __init__(self, path: "PartitionablePath") -> None:
        self.path = path
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.held = bytearray()  # taken while black-holed, delivered after

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.path.pipes.add(self)

    def data_received(self, data: bytes) -> None:
        if self.path.holed or self.peer is None or self.peer.transport is None:
            self.held += data
        else:
            self.peer.transport.write(data)

    def flush(self) -> None:
        if self.held and self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(bytes(self.held))
            self.held.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.path.pipes.discard(self)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


class PartitionablePath:
    """Listens on a port of its own and forwards to `target_port` on 127.0.0.1."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holed = False
        self.pipes: set[_Pipe] = set()
        self._server: asyncio.Server | None = None
        self._pending: list[_Pipe] = []  # clients accepted while black-holed

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _client(self) -> _Pipe:
        pipe = _Pipe(self)
        if self.holed:
            self._pending.append(pipe)  # accepted; its server is reached after healing
        else:
            asyncio.ensure_future(self._connect(pipe))
        return pipe

    async def _connect(self, client: _Pipe) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: _Pipe(self), "127.0.0.1", self.target_port
            )
        except OSError:
            if client.transport is not None:
                client.transport.close()
            return
        upstream.peer, client.peer = client, upstream
        client.flush()

    def black_hole(self) -> None:
        self.holed = True

    def heal(self) -> None:
        self.holed = False
        for pipe in list(self.pipes):
            pipe.flush()
        pending, self._pending = self._pending, []
        for pipe in pending:
            asyncio.ensure_future(self._connect(pipe))

    def cut(self) -> None:
        for pipe in list(self.pipes):
            if pipe.transport is not None:
                pipe.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
