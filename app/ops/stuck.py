"""A serving process that hangs shows where, and one that hangs on its way out ends anyway.

Each serving process (the only one, or each `--workers` worker) writes every thread's stack
to stderr on SIGUSR1; and once its shutdown has begun, a process that has not exited within
SHUTDOWN_LIMIT_SECONDS writes them and exits, so that a rolling restart never waits on it.
"""

import faulthandler
import logging
import signal

log = logging.getLogger("liveupdates.shutdown")

# From the start of the application's shutdown (requests have had their grace already):
# enough for every step of it to time out once (Redis 2 s, database statements 5 s).
SHUTDOWN_LIMIT_SECONDS = 20.0


def stacks_on_request() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def end_if_shutdown_overruns(seconds: float = SHUTDOWN_LIMIT_SECONDS) -> None:
    log.info("shutting down; ending the process if it still runs in %.0f s", seconds)
    faulthandler.dump_traceback_later(seconds, exit=True)
