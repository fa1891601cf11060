"""The application, built from its settings."""

import asyncio
import gc
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from secrets import token_hex
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.types import ASGIApp

from app.api import (
    authors,
    blogs,
    entries,
    finding,
    health,
    media,
    polls,
    push,
    questions,
    streams,
    tokens,
)
from app.api.body_size import BodySizeLimitMiddleware
from app.api.errors import database_error, refused
from app.api.polls import VotesMiddleware
from app.config import Settings
from app.domain.errors import Refusal
from app.live.asgi import ReaderSocketsMiddleware
from app.live.audience import Audience
from app.live.broker import make_broker
from app.live.edge import APP_STATE_KEY
from app.live.edge.admission import Admission
from app.live.edge.drain import BacklogDrain
from app.live.edge.heartbeat import Heartbeat
from app.live.hub import Hub
from app.live.polls import Polls
from app.live.push import PushSender
from app.live.websub import WebSub
from app.ops import metrics, stuck
from app.ops.observability import ObservabilityMiddleware
from app.ops.security import SecurityHeadersMiddleware
from app.ops.tasks import Every
from app.resources import STATIC_VERSION, WEB
from app.services import Services
from app.site import discovery, oembed, pages, search_pages
from app.site.cache_middleware import CachedPagesMiddleware, ProxyFreshnessMiddleware
from app.site.i18n import check_catalogs
from app.site.pagecache import PageCache
from app.store import archiving
from app.store.db import Database
from app.store.idempotency import forget_expired
from app.store.publishing import close_due_polls, publish_all_due
from app.store.rate_limits import SharedRateLimit, make_rate_limit
from app.store.votes import VoteWriter


class ImmutableFiles(StaticFiles):
    """Files whose names change with their content (app/resources.py: STATIC_VERSION)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_catalogs()  # pages in any language but English need them compiled

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, FastAPI]]:
        db = Database(settings)
        hub = Hub(
            db,
            make_broker(settings.broker_url),
            hold_seconds=settings.hub_hold_seconds,
            catchup_seconds=settings.hub_catchup_seconds,
            unknown_slug_seconds=settings.unknown_slug_seconds,
        )
        post_rate = make_rate_limit(
            settings.broker_url, "rate", settings.post_rate_per_minute, settings.post_burst
        )
        asks_per_address = make_rate_limit(
            settings.broker_url, "asks", settings.questions_per_address_per_hour / 60, 3
        )
        asks_per_blog = make_rate_limit(
            settings.broker_url,
            "asks-blog",
            settings.questions_per_blog_per_minute,
            max(1, settings.questions_per_blog_per_minute),
        )
        votes_per_address = make_rate_limit(
            settings.broker_url,
            "votes",
            settings.votes_per_address_per_hour / 60,
            max(1, settings.votes_per_address_per_hour),
        )
        subscribes_per_address = make_rate_limit(
            settings.broker_url,
            "push-subscribes",
            settings.push_subscribes_per_address_per_hour / 60,
            max(1, settings.push_subscribes_per_address_per_hour),
        )
        poll_results = Polls(hub, db, settings.poll_results_seconds)
        heartbeat = Heartbeat(settings.heartbeat_seconds)
        audience = Audience(hub, settings, f"{socket.gethostname()}-{os.getpid()}-{token_hex(3)}")
        app.state.services = Services(
            settings=settings,
            db=db,
            hub=hub,
            page_cache=PageCache(hub),
            post_rate=post_rate,
            questions_per_address=asks_per_address,
            questions_per_blog=asks_per_blog,
            votes=VoteWriter(db),
            votes_per_address=votes_per_address,
            push_subscribes_per_address=subscribes_per_address,
            admission=Admission(
                settings.ws_connections_per_address,
                settings.reader_connects_per_second,
                settings.reader_connect_burst,
                settings.reader_fd_reserve,
                ipv6_prefix=settings.ipv6_prefix_length,
                pressure=settings.reader_join_pressure,
            ),
            heartbeat=heartbeat,
            audience=audience,
        )
        # `liveupdates serve` sends alerts from a process of its own (app/live/push.py).
        push_sender = None if app.state.served else PushSender(db, settings.push_contact)
        if push_sender is not None:
            push_sender.start()
        websub = None
        if settings.websub_hub_url:
            websub = WebSub(db, settings.websub_hub_url, settings.public_url)
            hub.on_change.append(websub.changed)
            websub.start()
        await hub.start()
        audience.start()
        poll_results.start()
        jobs = [
            Every(
                "publishing scheduled entries",
                settings.schedule_check_seconds,
                lambda: publish_all_due(db, hub),
            ),
            Every(
                "closing polls on time",
                settings.schedule_check_seconds,
                lambda: close_due_polls(db, hub),
            ),
            Every(
                "forgetting old idempotency keys",
                600,
                lambda: forget_expired(db, settings.idempotency_key_hours),
            ),
        ]
        if settings.archive_after_days > 0:
            archive_after = timedelta(days=settings.archive_after_days)
            jobs.append(
                Every(
                    "archiving ended blogs",
                    archiving.CHECK_SECONDS,
                    lambda: archiving.archive_ended(db, hub, archive_after),
                )
            )
        for job in jobs:
            job.start()
        drain = BacklogDrain(asyncio.get_running_loop())
        if app.state.served:
            drain.install()  # inside uvicorn's signal handling: it wraps uvicorn's handlers
            # What starting made lives as long as the process: the collector's full passes
            # skip it (walking it paused every delivery for 75 ms in bench.votes' surge).
            gc.collect()
            gc.freeze()
        try:
            # uvicorn hands this state to its protocols: app.live.edge finds the app here.
            yield {APP_STATE_KEY: app}
        finally:
            drain.uninstall()
            if app.state.served:
                stuck.end_if_shutdown_overruns()
            for job in jobs:
                await job.stop()
            await audience.stop()
            await poll_results.stop()
            await heartbeat.stop()
            if websub is not None:
                await websub.stop()
            if push_sender is not None:
                await push_sender.stop()
            await hub.stop()
            limits = (
                post_rate, asks_per_address, asks_per_blog, votes_per_address,
                subscribes_per_address,
            )  # fmt: skip
            for limit in limits:
                if isinstance(limit, SharedRateLimit):
                    await limit.close()
            await db.dispose()
            metrics.process_exiting()

    app = FastAPI(
        title="liveupdates",
        summary="Live blogs: reporters post, every reader's page updates at once.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.served = False  # True in a process of `liveupdates serve` (app_factory)
    # Starlette's own body limit answers in plain text; the contract wants {"detail": ...}.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # An image, and room for the multipart envelope around it.
        larger={"/api/media": settings.media_max_bytes + 64 * 1024},
    )
    app.add_middleware(ReaderSocketsMiddleware)
    app.add_exception_handler(Refusal, refused)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def database_failed(request: Request, exc: Exception) -> JSONResponse:
        return database_error(f"{request.method} {request.url.path}", exc)

    app.include_router(blogs.router)
    app.include_router(entries.router)
    app.include_router(entries.preview_router)
    app.include_router(media.router)
    app.include_router(tokens.router)
    app.include_router(questions.router)
    app.include_router(questions.form_router)
    app.include_router(polls.router)
    app.include_router(polls.form_router)
    app.include_router(push.router)
    app.include_router(finding.router)
    app.include_router(authors.router)
    app.include_router(tokens.me_router)
    app.include_router(streams.router)
    app.include_router(pages.router)
    app.include_router(search_pages.router)
    app.include_router(discovery.router)
    app.include_router(oembed.router)
    app.include_router(health.router)
    # The web client under its content's name, for good; the plain names stay for old pages.
    app.mount(f"/static/{STATIC_VERSION}", ImmutableFiles(directory=WEB), name="versioned")
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    app.mount("/media", StaticFiles(directory=settings.media_dir, check_dir=False), name="media")
    return app


def serving(app: FastAPI) -> ASGIApp:
    """The ASGI app a server runs: every request observed (id, latency, log), security
    headers on everything, how long the proxy in front may keep an answer, cached pages
    and readers' votes answered in front of `app`."""
    settings: Settings = app.state.settings
    front = VotesMiddleware(ProxyFreshnessMiddleware(CachedPagesMiddleware(app)), app)
    return ObservabilityMiddleware(
        SecurityHeadersMiddleware(front, settings), log_reads=settings.access_log == "all"
    )


def app_factory() -> ASGIApp:
    """For `uvicorn --factory app.main:app_factory`: settings from the environment; called
    in each process that serves (each worker with `--workers`)."""
    stuck.stacks_on_request()
    app = create_app()
    app.state.served = True
    return serving(app)
