"""What a reader asks for, parsed in one place for every way in: the edge's WebSocket and
SSE protocols, and the ASGI middleware and SSE route.

    /ws/blogs/{slug}?since=<offset>&epoch=<epoch>&audience=no
    /blogs/{slug}/events?since=…&epoch=…   (or Last-Event-ID: <offset>@<epoch>)

`since` is the last offset the reader has; `epoch` the stream that offset counts in (from
`hello`, the page or the API). Both are optional: an old client without `epoch` resumes by
offset alone.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from app.domain.models import EPOCH_MAX
from app.live.routes import is_slug
from app.live.wire import CloseCode

_EPOCH = re.compile(f"[0-9a-z]{{1,{EPOCH_MAX}}}")
_OFFSET_DIGITS = 18
# The longest Last-Event-ID (or query value) a reader sends: offset, "@", epoch.
MAX_POSITION = _OFFSET_DIGITS + 1 + EPOCH_MAX


class Refused(Exception):
    """A reader that cannot be served: a close code for WebSockets, a status for SSE."""

    def __init__(self, code: int, status: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.status, self.reason = code, status, reason


def _bad(reason: str) -> Refused:
    return Refused(CloseCode.BAD_OFFSET, 400, reason)


def parse_since(raw: str | None) -> int | None:
    """`since` as given by a client: None, or a non-negative integer."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > _OFFSET_DIGITS:
        raise _bad("since must be a non-negative integer offset")
    return int(raw)


def parse_epoch(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _EPOCH.fullmatch(raw):
        raise _bad(f"epoch must be 1 to {EPOCH_MAX} of 0-9 and a-z, as hello gave it")
    return raw


@dataclass(frozen=True, slots=True)
class ReaderRequest:
    slug: str
    since: int | None = None  # the last offset the reader has; None: from now on
    epoch: str | None = None  # the stream `since` counts in; None: an old client's offset
    in_audience: bool = True  # `audience=no`: the newsroom's own view, a monitor

    @classmethod
    def parse(cls, slug: str, query: str, last_event_id: str | None = None) -> "ReaderRequest":
        """From the path's slug, the raw query string and, for SSE, the Last-Event-ID
        header (which wins over `since` and `epoch`: the browser sends it on reconnecting).
        Raises `Refused`: 400 (close 4400) for a malformed position, 404 (close 4404) for
        a slug no blog can have."""
        if not is_slug(slug):
            raise Refused(CloseCode.NO_SUCH_BLOG, 404, f"no blog {slug!r}")
        values = parse_qs(query, keep_blank_values=True)

        def last(name: str) -> str | None:
            found = values.get(name)
            return found[-1] if found else None

        since_raw, epoch_raw = last("since"), last("epoch")
        if last_event_id:
            since_raw, has_epoch, id_epoch = last_event_id.partition("@")
            if has_epoch:
                epoch_raw = id_epoch
        return cls(
            slug=slug,
            since=parse_since(since_raw),
            epoch=parse_epoch(epoch_raw),
            in_audience=last("audience") != "no",
        )
