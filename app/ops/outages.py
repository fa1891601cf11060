"""Outages of what the service depends on (the database, the broker), logged so that the
levels mean something: one ERROR when a dependency goes away, a WARNING a minute while it
stays away, INFO when it is back; each counted in /metrics."""

import logging
import time

from app.ops.metrics import DEPENDENCY_EVENTS, DEPENDENCY_UP

log = logging.getLogger("liveupdates.outages")


class Outage:
    """The state of one dependency, as its users find it."""

    def __init__(
        self, dependency: str, repeat_seconds: float = 60.0, lost_level: int = logging.ERROR
    ) -> None:
        self.dependency = dependency
        self.repeat_seconds = repeat_seconds
        self.lost_level = lost_level  # a helper process says it quieter than the servers
        self.since: float | None = None  # when it went away; None while it answers
        self._said = 0.0
        self._up = DEPENDENCY_UP.labels(dependency)
        self._up.set(1)

    @property
    def away(self) -> bool:
        return self.since is not None

    def failed(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = self._said = now
            self._up.set(0)
            DEPENDENCY_EVENTS.labels(self.dependency, "lost").inc()
            log.log(
                self.lost_level, "%s is unavailable: %s failed (%r)", self.dependency, what, error
            )
        elif now - self._said >= self.repeat_seconds:
            self._said = now
            DEPENDENCY_EVENTS.labels(self.dependency, "still_lost").inc()
            log.warning(
                "%s still unavailable after %.0f s: %s failed (%r)",
                self.dependency, now - self.since, what, error,
            )  # fmt: skip

    def answered(self) -> None:
        if self.since is not None:
            DEPENDENCY_EVENTS.labels(self.dependency, "back").inc()
            log.info("%s is back after %.1f s", self.dependency, time.monotonic() - self.since)
            self.since = None
            self._up.set(1)


# One per process: every user of a dependency reports to the same tracker.
DATABASE = Outage("database")
BROKER = Outage("broker")
