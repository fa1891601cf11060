"""Polls' results to readers: every `POLL_RESULTS_SECONDS` (about 2 s), each blog read
here whose results changed gets one notice frame with all of them (never one per vote),
and every reader joining gets the latest in its `hello`. Results are counted from the
database, so every instance tells the same, and none is lost on a restart."""

import logging

import orjson

from app.domain import events
from app.live.hub import Hub
from app.live.wire import NOTICE, Frame
from app.ops.tasks import Every
from app.store.db import Database
from app.store.votes import results_json, tallies

log = logging.getLogger("liveupdates.polls")


class Polls:
    def __init__(self, hub: Hub, db: Database, interval: float) -> None:
        self.hub = hub
        self.db = db
        self._rounds = Every("counting the polls' votes", interval, self.round, wait_first=True)

    def start(self) -> None:
        if self._rounds.interval > 0:
            self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def round(self) -> None:
        blog_ids = list(self.hub.blogs_here())
        if not blog_ids:
            return
        async with self.db.read() as session:
            found = await tallies(session, blog_ids)
        for blog_id in blog_ids:
            shown = results_json(found.get(blog_id, {}))
            if shown == self.hub.poll_results.get(blog_id, {}):
                continue
            self.hub.poll_results[blog_id] = shown
            self.hub.polls_seen[blog_id] = self.hub.polls_seen.get(blog_id, 0) + 1
            data = orjson.dumps(events.poll_results(shown))
            await self.hub.notify(blog_id, Frame(NOTICE, data, events.EventType.POLL_RESULTS))
        for gone in set(self.hub.poll_results) - set(blog_ids):
            del self.hub.poll_results[gone]  # no reader here: not to greet anyone with
