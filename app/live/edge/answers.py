"""HTTP answers written straight to a socket, for requests answered before the framework:
refused at the edge, or a reader's stream. Each ends the connection after it."""

from http import HTTPStatus

import orjson


def http_answer(
    status: int, headers: list[tuple[str, str]], body: bytes = b"", length: bool = True
) -> bytes:
    """A response head (and body) that ends the connection after it."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length:
        lines.append(f"content-length: {len(body)}")
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_answer(
    status: int, detail: str, headers: list[tuple[str, str]], extra: dict[str, str] | None = None
) -> bytes:
    """The contract's `{"detail": ...}` error, for requests answered before the framework."""
    body = orjson.dumps({"detail": detail})
    fields = [*headers, ("content-type", "application/json"), *(extra or {}).items()]
    return http_answer(status, fields, body)
