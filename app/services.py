"""What a running application is made of, as one typed object (`services(app)`).

The lifespan (app/main.py) builds it; routes, dependencies, middlewares and the reader
edge reach the database, the hub and the rest through it, never by untyped lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.config import Settings
    from app.live.audience import Audience
    from app.live.edge.admission import Admission
    from app.live.edge.heartbeat import Heartbeat
    from app.live.hub import Hub
    from app.site.pagecache import PageCache
    from app.store.db import Database
    from app.store.rate_limits import RateLimit, SharedRateLimit
    from app.store.votes import VoteWriter


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    hub: Hub
    page_cache: PageCache
    post_rate: RateLimit | SharedRateLimit
    questions_per_address: RateLimit | SharedRateLimit
    questions_per_blog: RateLimit | SharedRateLimit
    votes: VoteWriter
    votes_per_address: RateLimit | SharedRateLimit
    push_subscribes_per_address: RateLimit | SharedRateLimit
    admission: Admission
    heartbeat: Heartbeat
    audience: Audience


def services(app: Any) -> Services:
    """The services of `app` (a FastAPI application, once its lifespan has started)."""
    found: Services = app.state.services
    return found
