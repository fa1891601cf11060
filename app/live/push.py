"""Sending Web Push notifications (RFC 8030): each message encrypted to its subscription's
keys (RFC 8291, aes128gcm, by http_ece) and signed with the server's VAPID key (RFC 8292, by
py_vapid), POSTed to the subscription's push service.

Every instance runs a sender: `liveupdates serve` in a process of its own, at a lower CPU
priority (`start_sender_process`), so that encrypting and posting thousands of messages
never holds up the event loops that deliver entries; an app served otherwise (tests, other
servers) sends from its own loop. A sender takes the next chunk of a waiting notification's
subscribers (app/store/push.py: each chunk is one sender's), encrypts the chunk in a thread
(the event loop keeps delivering entries), and sends at most `CONCURRENCY` at a time, each
bounded by `TIMEOUT_SECONDS`. A subscription its push service says is gone (404, 410) is
forgotten. Nothing here is awaited by a post: the post only adds the notification to the
database, in its own transaction.
"""

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from app.config import Settings
from app.domain.models import PushSubscription
from app.ops import logs, metrics
from app.ops.metrics import PUSH_SENT
from app.ops.outages import DATABASE, Outage
from app.ops.tasks import Every
from app.store import push
from app.store.db import Database

log = logging.getLogger("liveupdates.push")

CONCURRENCY = 64
TIMEOUT_SECONDS = 10.0
# Sends that failed before any answer (refused, reset, closed) are tried again, a moment
# apart; a timeout is not (the service may have taken it).
SEND_ATTEMPTS = 3
RETRY_SECONDS = 0.5
UNSENT = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ReadError,
    httpx.WriteError, httpx.RemoteProtocolError,
)  # fmt: skip
TTL_SECONDS = 3600  # how long a push service may hold it for an offline browser
CHECK_SECONDS = 1.0  # how often a sender looks for notifications waiting
SIGNATURE_SECONDS = 12 * 3600
SENDER_NICENESS = 10  # the sender process yields the CPU to the servers


@dataclass(frozen=True, slots=True)
class Outgoing:
    subscription_id: int
    endpoint: str
    headers: dict[str, str]
    body: bytes


def _unreachable(message: Outgoing, error: httpx.HTTPError) -> None:
    PUSH_SENT.labels(result="failed").inc()
    log.warning("push: %s unreachable: %r", urlsplit(message.endpoint).netloc, error)


class PushSender:
    def __init__(self, db: Database, contact: str, outage: Outage = DATABASE) -> None:
        self.db = db
        self.contact = contact  # the VAPID `sub`: how a push service reaches the sender
        self._vapid: Vapid02 | None = None
        self._signatures: dict[str, tuple[float, str]] = {}  # push service origin -> header
        self._rounds = Every(
            "sending notifications", CHECK_SECONDS, self.send_waiting, outage=outage
        )
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=CONCURRENCY),
            follow_redirects=False,
        )
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        if self._client is not None:
            await self._client.aclose()

    async def send_waiting(self) -> None:
        """Send chunks until no notification waits (a round of the timer)."""
        while (chunk := await push.claim(self.db)) is not None:
            if self._vapid is None:  # made at the first start, kept since
                keys = await push.vapid_keys(self.db)
                self._vapid = Vapid02.from_raw(keys.private_key.encode())
            await self._send(chunk)

    async def _send(self, chunk: push.Chunk) -> None:
        outgoing = await asyncio.to_thread(self._prepare, chunk.message, chunk.subscriptions)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def send(message: Outgoing) -> int | None:
            async with limit:
                return await self._post(message)

        gone = [
            message.subscription_id
            for message, status in zip(
                outgoing, await asyncio.gather(*(send(m) for m in outgoing)), strict=True
            )
            if status in (404, 410)
        ]
        await push.forget(self.db, gone)

    async def _post(self, message: Outgoing) -> int | None:
        assert self._client is not None
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                answer = await self._client.post(
                    message.endpoint, content=message.body, headers=message.headers
                )
                break
            except UNSENT as error:
                # Nothing was answered on this connection (a push service closes idle
                # keep-alive connections, sometimes just as one is reused): again, anew.
                if attempt == SEND_ATTEMPTS:
                    _unreachable(message, error)
                    return None
                await asyncio.sleep(RETRY_SECONDS * attempt)
            except httpx.HTTPError as error:
                _unreachable(message, error)
                return None
        if answer.is_success:
            PUSH_SENT.labels(result="sent").inc()
        elif answer.status_code in (404, 410):
            PUSH_SENT.labels(result="gone").inc()
        else:
            PUSH_SENT.labels(result="refused").inc()
            log.warning(
                "push: %s answered %d", urlsplit(message.endpoint).netloc, answer.status_code
            )
        return answer.status_code

    def _prepare(
        self, message: dict[str, Any], subscriptions: list[PushSubscription]
    ) -> list[Outgoing]:
        """Each subscription's request: its own encryption of the message (in a thread)."""
        payload = orjson.dumps(message)
        prepared = []
        for subscription in subscriptions:
            assert subscription.id is not None
            try:
                body = http_ece.encrypt(
                    payload,
                    private_key=ec.generate_private_key(ec.SECP256R1()),
                    dh=push.unb64url(subscription.p256dh),
                    auth_secret=push.unb64url(subscription.auth),
                    version="aes128gcm",
                )
            except ValueError as error:  # keys the browser gave that cannot be used
                log.warning("push: cannot encrypt to subscription %d: %s", subscription.id, error)
                continue
            headers = {
                "Authorization": self._signature(subscription.endpoint),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(TTL_SECONDS),
                "Urgency": "high",
            }
            prepared.append(Outgoing(subscription.id, subscription.endpoint, headers, body))
        return prepared

    def _signature(self, endpoint: str) -> str:
        """`vapid t=<JWT>,k=<public key>` for the endpoint's push service, made once per
        service and `SIGNATURE_SECONDS`."""
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        made = self._signatures.get(origin)
        if made is None or made[0] < now + 600:
            assert self._vapid is not None
            expires = int(now) + SIGNATURE_SECONDS
            claims = {"aud": origin, "sub": self.contact, "exp": expires}
            made = self._signatures[origin] = (expires, self._vapid.sign(claims)["Authorization"])
        return made[1]


def start_sender_process(settings: Settings) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(
        target=_sender_process, args=(settings, os.getpid()), name="liveupdates push", daemon=True
    )
    process.start()
    return process


def stop_sender_process(process: multiprocessing.process.BaseProcess) -> None:
    # SIGTERM: it stops at once; a chunk it was sending is cut short (those subscribers miss
    # that alert: at most once, never twice).
    process.terminate()
    process.join(timeout=15)
    if process.is_alive():
        process.kill()


def _sender_process(settings: Settings, parent: int) -> None:
    os.nice(SENDER_NICENESS)
    logs.configure("info", settings.log_format)
    asyncio.run(_send_until_stopped(settings, parent))


async def _send_until_stopped(settings: Settings, parent: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with Database(settings) as db:
        try:
            await push.vapid_keys(db)  # made at the first start, if `liveupdates vapid` was not run
        except Exception as error:  # the database is away: made when first needed
            log.warning("push: the VAPID keys are not made yet: %s", error)
        # The servers tell of the database's outage (ERROR, once); this process, quieter.
        quiet = Outage("database", lost_level=logging.WARNING)
        sender = PushSender(db, settings.push_contact, quiet)
        sender.start()
        try:
            while not stopping.is_set() and os.getppid() == parent:  # orphaned: stop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
        finally:
            await sender.stop()
            metrics.process_exiting()
