"""For load balancers, orchestrators and Prometheus: /healthz, /readyz and /metrics."""

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.config import Settings
from app.live.hub import Hub
from app.ops.metrics import allowed, exposition
from app.services import services
from app.store.db import Database

router = APIRouter(include_in_schema=False)

CHECK_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving: restart it if this fails."""
    return {"status": "ok"}


async def _database_ok(db: Database) -> bool:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _broker_ok(hub: Hub) -> bool:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await hub.broker.ping()
    except TimeoutError:
        return False


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database and the broker answer: send this instance traffic. 503 otherwise."""
    database, broker = await asyncio.gather(
        _database_ok(services(request.app).db), _broker_ok(services(request.app).hub)
    )
    checks = {"database": "ok" if database else "down", "broker": "ok" if broker else "down"}
    return JSONResponse(checks, status_code=200 if database and broker else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics: from private networks (METRICS_ALLOW) or with METRICS_TOKEN."""
    settings: Settings = services(request.app).settings
    client = request.client.host if request.client else None
    if not allowed(
        client, settings.metrics_allow, settings.metrics_token, request.headers.get("authorization")
    ):
        return JSONResponse({"detail": "metrics are not served to this address"}, status_code=403)
    body, content_type = exposition()
    return Response(body, media_type=content_type)
