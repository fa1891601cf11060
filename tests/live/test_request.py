"""What a reader asks for, parsed once (app/live/request.py), and the paths served before
the framework (app/live/routes.py)."""

from types import SimpleNamespace
from typing import Any

import pytest

from app.config import Settings
from app.live.edge.admission import Admission
from app.live.edge.http import ALLOWED as PHASES
from app.live.edge.http import Phase
from app.live.edge.stream import ALLOWED as STATES
from app.live.edge.stream import StreamState
from app.live.edge.websocket import WebSocketProtocol
from app.live.request import MAX_POSITION, ReaderRequest, Refused
from app.live.routes import Match, Route, is_slug, match


def test_a_reader_request_from_a_query() -> None:
    assert ReaderRequest.parse("storm", "") == ReaderRequest("storm")
    request = ReaderRequest.parse("storm", "since=42&epoch=3f9a0c&audience=no")
    assert request == ReaderRequest("storm", since=42, epoch="3f9a0c", in_audience=False)
    assert ReaderRequest.parse("storm", "since=&epoch=").since is None  # blank: absent
    assert ReaderRequest.parse("storm", "since=1&since=7").since == 7  # the last one


def test_last_event_id_wins_and_may_carry_the_epoch() -> None:
    query = "since=1&epoch=aaaa"
    assert ReaderRequest.parse("s", query, "9@bbbb") == ReaderRequest("s", 9, "bbbb")
    # An id without an epoch (an old client's, or from before epochs): the query's stays.
    assert ReaderRequest.parse("s", query, "9") == ReaderRequest("s", 9, "aaaa")


@pytest.mark.parametrize(
    ("slug", "query", "last_event_id", "code", "status"),
    [
        ("storm", "since=-1", None, 4400, 400),
        ("storm", "since=1e3", None, 4400, 400),
        ("storm", "since=" + "9" * 19, None, 4400, 400),
        ("storm", "since=٣", None, 4400, 400),  # a digit, but not ASCII
        ("storm", "since=1&epoch=NOT-OURS", None, 4400, 400),
        ("storm", "since=1&epoch=" + "a" * 33, None, 4400, 400),
        ("storm", "", "x@abc", 4400, 400),
        ("storm", "", "1@A", 4400, 400),  # epochs are lower case
        ("Storm", "", None, 4404, 404),  # no blog can have it
        ("é" * 10, "", None, 4404, 404),
        ("-storm", "", None, 4404, 404),
    ],
)
def test_what_cannot_be_a_position_or_a_blog_is_refused(
    slug: str, query: str, last_event_id: str | None, code: int, status: int
) -> None:
    with pytest.raises(Refused) as refused:
        ReaderRequest.parse(slug, query, last_event_id)
    assert (refused.value.code, refused.value.status) == (code, status)


def test_the_longest_position_fits_the_header_bound() -> None:
    longest = f"{'9' * 18}@{'z' * 32}"
    assert len(longest) == MAX_POSITION
    assert ReaderRequest.parse("s", "", longest).epoch == "z" * 32


def test_one_route_table() -> None:
    assert match("/ws/blogs/storm") == Match(Route.READER_SOCKET, "storm")
    assert match("/blogs/storm/events") == Match(Route.READER_EVENTS, "storm")
    assert match("/blogs/storm") == Match(Route.PAGE, "storm")
    assert match("/blogs/storm/feed.atom") == Match(Route.FEED, "storm")
    assert match("/blogs/storm/entries/12") == Match(Route.ENTRY_PAGE, "storm", 12)
    # A reader's path matches whatever its slug segment holds: "no such blog" is the answer.
    assert match("/ws/blogs/NOT a slug") == Match(Route.READER_SOCKET, "NOT a slug")
    for path in (
        "/ws/blogs/",
        "/ws/blogs/a/b",
        "/blogs/storm/entries/0",
        "/blogs/storm/entries/12345678901",
        "/blogs/storm/events/x",
        "/api/blogs",
    ):
        assert match(path) is None, path  # fmt: skip
    assert is_slug("storm-2026") and not is_slug("storm-") and not is_slug("a" * 65)


def test_every_phase_and_state_is_reachable_and_closed_ends() -> None:
    """The lifecycles' tables: every phase or state can be reached from the first, and
    every one can reach the end (nothing is stuck)."""
    for table, first, end in (
        (PHASES, Phase.BETWEEN, {Phase.CLOSED, Phase.HANDED_OVER}),
        (STATES, StreamState.HANDSHAKE, {StreamState.CLOSED}),
    ):
        seen, todo = {first}, [first]
        while todo:
            for after in table[todo.pop()]:  # type: ignore[index]
                if after not in seen:
                    seen.add(after)
                    todo.append(after)
        assert seen == set(table)
        for state in table:
            assert state in end or table[state], state  # type: ignore[index]


def test_a_move_the_table_does_not_list_is_refused() -> None:
    admission = Admission(per_address=0, per_second=0, burst=1, reserve=0, open_files=100)
    services: Any = SimpleNamespace(settings=Settings(), admission=admission)
    reader = WebSocketProtocol(services, SimpleNamespace(connections=set()), None)
    assert reader.state is StreamState.HANDSHAKE and admission.joining == 1
    with pytest.raises(RuntimeError, match="cannot go from"):
        reader.to(StreamState.LIVE)  # no hello, no replay: never
    reader.to(StreamState.JOINING)
    reader.to(StreamState.REPLAYING)
    reader.to(StreamState.LIVE)
    assert admission.joining == 0  # live: no longer counted as arriving
    reader.to(StreamState.CLOSED)
    with pytest.raises(RuntimeError):
        reader.to(StreamState.LIVE)
    assert admission.joining == 0
