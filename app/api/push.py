"""Web Push: a reader's browser subscribes to a blog's key events (and its end) and may
unsubscribe; the server's public VAPID key is what the browser subscribes with. Sending is
app/live/push.py's."""

import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, HTTPException, Request, Response, status

from app.api.deps import BlogDep, DatabaseDep, SettingsDep, client_network
from app.api.errors import errors, within
from app.config import Settings
from app.domain.models import BlogStatus
from app.domain.shapes.push import PushKeyPublic, PushSubscribe, PushUnsubscribe
from app.services import services
from app.store import push

router = APIRouter(tags=["push"])


def _invalid(why: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, why)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_subscription(subscription: PushSubscribe, settings: Settings) -> None:
    """A push service we may post to (PUSH_SERVICE_HOSTS; https, or http on loopback), and
    keys a message can be encrypted to: 422 otherwise."""
    try:
        url = urlsplit(subscription.endpoint)
        host = (url.hostname or "").lower()
        url.port  # noqa: B018 (raises for a port that is not one)
    except ValueError:
        raise _invalid("endpoint is not a URL") from None
    if not any(
        host == known or host.endswith("." + known) for known in settings.push_service_hosts
    ):
        raise _invalid(f"{host or 'the endpoint'} is not a push service this server posts to")
    if url.scheme != "https" and not (url.scheme == "http" and _loopback(host)):
        raise _invalid("a push service is reached over https")
    try:
        point = push.unb64url(subscription.keys.p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        secret = push.unb64url(subscription.keys.auth)
    except ValueError:
        raise _invalid("keys.p256dh is not a P-256 public key (base64url)") from None
    if len(secret) != 16:
        raise _invalid("keys.auth is not 16 bytes (base64url)")


@router.get("/api/push/key", response_model=PushKeyPublic, responses=errors())
async def push_key(db: DatabaseDep) -> PushKeyPublic:
    """The server's public VAPID key: `applicationServerKey` for `pushManager.subscribe`."""
    return PushKeyPublic(public_key=(await push.vapid_keys(db)).public_key)


@router.post(
    "/api/blogs/{slug}/push",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404, 409, 413, 429),
)
async def subscribe(
    request: Request,
    response: Response,
    blog: BlogDep,
    subscription: PushSubscribe,
    db: DatabaseDep,
    settings: SettingsDep,
) -> dict[str, str]:
    """Notify this browser of the blog's key events, and of its end (anyone). 201, or 200
    for a subscription already kept (its keys renewed). An ended blog: 409."""
    check_subscription(subscription, settings)
    if blog.status == BlogStatus.ended:
        raise HTTPException(status.HTTP_409_CONFLICT, f"blog {blog.slug!r} has ended")
    limit = services(request.app).push_subscribes_per_address
    await within(limit, client_network(request), "subscriptions from this address")
    assert blog.id is not None
    async with db.write() as session:
        new = await push.subscribe(
            session,
            blog.id,
            subscription.endpoint,
            subscription.keys.p256dh,
            subscription.keys.auth,
        )
    if not new:
        response.status_code = status.HTTP_200_OK
    return {"endpoint": subscription.endpoint}


@router.delete(
    "/api/blogs/{slug}/push",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 404, 413),
)
async def unsubscribe(blog: BlogDep, subscription: PushUnsubscribe, db: DatabaseDep) -> None:
    """Stop notifying this browser (its endpoint); 204 whether or not it was kept."""
    assert blog.id is not None
    async with db.write() as session:
        await push.unsubscribe(session, blog.id, subscription.endpoint)
