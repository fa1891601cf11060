"""Background jobs every instance runs on a timer: publishing scheduled entries, forgetting
old idempotency keys."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from app.ops import tasks
from app.ops.outages import DATABASE

log = logging.getLogger("liveupdates.periodic")


class Every:
    """Runs `job` every `interval` seconds until stopped. A round failing because the
    database is away counts as its outage (logged once, not every round); the next round
    tries again."""

    def __init__(self, name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await tasks.stop(self._task)

    async def _run(self) -> None:
        while True:
            try:
                await self.job()
            except (SQLAlchemyError, OSError) as error:  # OSError: TimeoutError too
                DATABASE.failed(self.name, error)
            except Exception:
                log.exception("%s failed; trying again in %s s", self.name, self.interval)
            else:
                DATABASE.answered()
            tasks.raise_if_cancelled()
            await asyncio.sleep(self.interval)
