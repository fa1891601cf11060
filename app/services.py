"""What a running application is made of, as one typed object (`services(app)`).

The lifespan (app/main.py) builds it; routes, dependencies, middlewares and the reader
edge reach the database, the hub and the rest through it, never by untyped lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.config import Settings
    from app.db import Database
    from app.limits import PostRate, SharedPostRate
    from app.live.audience import Audience
    from app.live.edge.admission import Admission
    from app.live.edge.reader import Heartbeat
    from app.live.hub import Hub
    from app.pagecache import PageCache


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    hub: Hub
    pages: PageCache
    post_rate: PostRate | SharedPostRate
    admission: Admission
    heartbeat: Heartbeat
    audience: Audience


def services(app: Any) -> Services:
    """The services of `app` (a FastAPI application, once its lifespan has started)."""
    found: Services = app.state.services
    return found
