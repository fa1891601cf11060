"""Background tasks that stop when told, whatever the libraries under them do.

redis-py (8.1 at least) can swallow a task's cancellation inside a command: the command
completes, or fails with a RedisError, as though nothing had happened. A loop around such
calls then runs on after its task was cancelled, and whoever awaits the task (shutdown,
or asyncio.run's teardown) waits for ever. So loops call `raise_if_cancelled()` before
each round and before each pause, and owners end tasks with `stop()`, which cancels
until the task is done.
"""

import asyncio
import contextlib
import logging

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
