"""WebSub (W3C): the Atom feeds name a hub (`WEBSUB_HUB_URL`), and the instance that made a
change tells the hub the blog's feed changed (`hub.mode=publish`), so that subscribers
hear of it at once instead of polling.

Pings never hold up a post: a change only marks its blog (a set, so a burst of posts is one
ping), and one task sends the pings, at most one a blog per `INTERVAL_SECONDS`, each
bounded by `TIMEOUT_SECONDS`. A ping the hub refuses or that fails is tried again after a
growing pause (up to `RETRY_MAX_SECONDS`); at most `PENDING_MAX` blogs wait at once.
"""

import asyncio
import contextlib
import logging
import time

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.domain.models import Blog
from app.ops.metrics import WEBSUB_PINGS
from app.store.db import Database

log = logging.getLogger("liveupdates.websub")

INTERVAL_SECONDS = 1.0
TIMEOUT_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
PENDING_MAX = 10_000


class WebSub:
    def __init__(
        self,
        db: Database,
        hub_url: str,
        public_url: str,
        interval: float = INTERVAL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.db = db
        self.hub_url = hub_url
        self.public_url = public_url.rstrip("/")
        self.interval = interval
        self.timeout = timeout
        self._due: dict[int, float] = {}  # blog id -> when to ping (monotonic)
        self._failures: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def feed_url(self, slug: str) -> str:
        return f"{self.public_url}/blogs/{slug}/feed.atom"

    def changed(self, blog_id: int) -> None:
        """The blog's feed changed: ping the hub soon (never waits)."""
        if blog_id in self._due or len(self._due) >= PENDING_MAX:
            return
        self._due[blog_id] = time.monotonic()
        self._wake.set()

    def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="websub pings")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._due:
                now = time.monotonic()
                ready = [blog_id for blog_id, at in self._due.items() if at <= now]
                if not ready:
                    await self._sleep_until(min(self._due.values()))
                    continue
                for blog_id in ready:
                    del self._due[blog_id]
                try:
                    slugs = await self._slugs(ready)
                except Exception as error:  # the database is away: try these again later
                    log.warning("websub: cannot read the blogs to ping: %s", error)
                    slugs = {}
                    for blog_id in ready:
                        self._retry(blog_id)
                await asyncio.gather(*(self._ping(b, s) for b, s in slugs.items()))
                await asyncio.sleep(self.interval)  # what changes meanwhile goes together

    async def _sleep_until(self, at: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, at - time.monotonic())):
                await self._wake.wait()
        self._wake.clear()

    async def _slugs(self, blog_ids: list[int]) -> dict[int, str]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(col(Blog.id), col(Blog.slug)).where(col(Blog.id).in_(blog_ids))
            )
            return {blog_id: slug for blog_id, slug in rows if blog_id is not None}

    async def _ping(self, blog_id: int, slug: str) -> None:
        assert self._client is not None
        topic = self.feed_url(slug)
        try:
            answer = await self._client.post(
                self.hub_url, data={"hub.mode": "publish", "hub.url": topic}
            )
            ok = answer.is_success
            why = f"{answer.status_code}"
        except httpx.HTTPError as error:
            ok, why = False, type(error).__name__
        WEBSUB_PINGS.labels(result="sent" if ok else "failed").inc()
        if ok:
            self._failures.pop(blog_id, None)
            return
        log.warning("websub: the hub did not take %s (%s); trying again", topic, why)
        self._retry(blog_id)

    def _retry(self, blog_id: int) -> None:
        failures = self._failures[blog_id] = self._failures.get(blog_id, 0) + 1
        pause = min(RETRY_MAX_SECONDS, self.interval * 2**failures)
        self._due.setdefault(blog_id, time.monotonic() + pause)
        self._wake.set()
