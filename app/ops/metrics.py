"""Prometheus metrics, and the /metrics answer.

With several worker processes (`liveupdates serve --workers N`) each process writes its
values to files under PROMETHEUS_MULTIPROC_DIR, which the CLI sets before the workers
start, and /metrics adds them up, whichever worker answers. Counting is kept off the
per-reader path: a fan-out counts its deliveries once per event.
"""

import ipaddress
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

READERS = Gauge(
    "liveupdates_readers",
    "Readers connected now, by transport",
    ["transport"],
    multiprocess_mode="livesum",
)
EVENTS_PUBLISHED = Counter(
    "liveupdates_events_published", "Events committed to the event log by this server"
)
DELIVERIES = Counter(
    "liveupdates_deliveries", "Events handed to connected readers (one per reader per event)"
)
SLOW_READERS = Counter(
    "liveupdates_slow_reader_disconnects",
    "Readers dropped because their unsent backlog passed READER_BUFFER_BYTES (close 4008)",
)
REPLAYED = Counter(
    "liveupdates_replayed_events", "Events sent to resuming readers from memory or the log"
)
PUSH_SENT = Counter(
    "liveupdates_push_notifications",
    "Web Push notifications by result: sent, gone (404/410: forgotten), refused, failed",
    ["result"],
)
WEBSUB_PINGS = Counter(
    "liveupdates_websub_pings",
    "Pings to the WebSub hub that a blog's feed changed, by result (sent, failed)",
    ["result"],
)
BROKER_MESSAGES = Counter(
    "liveupdates_broker_messages",
    "Doorbells heard from other instances (events and notices of the blogs read here)",
)
BROKER_SUBSCRIPTIONS = Gauge(
    "liveupdates_broker_subscriptions",
    "Blogs whose doorbells this instance listens for (each worker its own: summed)",
    multiprocess_mode="livesum",
)
BROKER_RECONNECTS = Counter(
    "liveupdates_broker_reconnects", "Times the broker subscription was lost and made again"
)
DEPENDENCY_EVENTS = Counter(
    "liveupdates_dependency_events",
    "The database or the broker went away (lost), stayed away a minute more (still_lost), "
    "or came back (back)",
    ["dependency", "event"],
)
DEPENDENCY_UP = Gauge(
    "liveupdates_dependency_up",
    "1 while the database (or the broker) answers this server, 0 during an outage",
    ["dependency"],
    multiprocess_mode="livemin",  # any live worker that cannot reach it says so
)
SCHEDULED_PUBLISHED = Counter(
    "liveupdates_scheduled_published", "Scheduled entries this server published on time"
)
REQUEST_SECONDS = Histogram(
    "liveupdates_request_duration_seconds",
    "HTTP request latency, by method, route template and status class",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_PRIVATE = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
]


def allowed(client: str | None, networks: str, token: str, authorization: str | None) -> bool:
    """Whether a scrape may see the metrics: from an allowed network (private ones unless
    METRICS_ALLOW says otherwise), or with `Authorization: Bearer <METRICS_TOKEN>`."""
    if token and authorization == f"Bearer {token}":
        return True
    if not client:
        return False
    allow = [ipaddress.ip_network(n.strip()) for n in networks.split(",") if n.strip()]
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in network for network in (allow or _PRIVATE))


def exposition() -> tuple[bytes, str]:
    """The metrics of this process, or of every worker when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """A worker stops: its live gauges (readers) must no longer count in the sum."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
