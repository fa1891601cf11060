"""Background tasks that stop when told, whatever the libraries under them do.

redis-py (8.1 at least) can swallow a task's cancellation inside a command: the command
completes, or fails with a RedisError, as though nothing had happened. A loop around such
calls then runs on after its task was cancelled, and whoever awaits the task (shutdown,
or asyncio.run's teardown) waits for ever. So loops call `raise_if_cancelled()` before
each round and before each pause, and owners end tasks with `stop()`, which cancels
until the task is done.

Every loop that runs in the background on a timer is an `Every`: the scheduler, the
idempotency keys' expiry, the hub's catch-up with the event log, the audience's count,
the readers' heartbeat.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from app.ops.outages import DATABASE, Outage

log = logging.getLogger("liveupdates.tasks")

RECANCEL_SECONDS = 0.1


def raise_if_cancelled() -> None:
    """Raise the cancellation a library swallowed; a no-op in a task nobody cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop(task: asyncio.Task[object] | None) -> None:
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=RECANCEL_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        if (error := task.exception()) is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=error)


class Every:
    """Runs `job` every `interval` seconds (the first time at once, or after an interval
    when `wait_first`) until stopped. A job on the database (`outage`, the default): a
    round failing because the database is away counts as its outage (logged once, not
    every round), and a round that succeeds ends it. Any other failure is logged. The next
    round tries again."""

    def __init__(
        self,
        name: str,
        interval: float,
        job: Callable[[], Awaitable[object]],
        wait_first: bool = False,
        outage: Outage | None = DATABASE,
    ) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self.wait_first = wait_first
        self.outage = outage
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        await stop(self._task)

    async def _run(self) -> None:
        if self.wait_first:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self.job()
            except (SQLAlchemyError, OSError) as error:  # OSError: TimeoutError too
                if self.outage is None:
                    log.exception("%s failed; trying again in %s s", self.name, self.interval)
                else:
                    self.outage.failed(self.name, error)
            except Exception:
                log.exception("%s failed; trying again in %s s", self.name, self.interval)
            else:
                if self.outage is not None:
                    self.outage.answered()
            raise_if_cancelled()
            await asyncio.sleep(self.interval)
