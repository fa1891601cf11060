"""The deployment: compose file and nginx config validated, the compose topology run without
Docker (nginx in front of two instances on Postgres and Redis), health and metrics."""

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from app.config import Settings
from tests.conftest import StartServer, Tokens
from tests.servers import AppServer, Nginx, PrivatePostgres, RedisServer

ROOT = Path(__file__).resolve().parents[2]
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    # The Compose Specification's schema as shipped inside check-jsonschema: no download.
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    checked = check_compose(ROOT / "docker-compose.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        (ROOT / "docker-compose.yml").read_text().replace("replicas: 2", "replica: 2")
    )
    assert check_compose(broken).returncode != 0  # the check does catch mistakes


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = Nginx(tmp_path, [8001, 8002], tmp_path)
    tested = nginx.test()
    assert tested.returncode == 0, tested.stderr
    assert "test is successful" in tested.stderr


def test_dockerfile_runs_as_a_user_with_a_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER liveupdates\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "pip wheel" in dockerfile and "pip install /dist/*.whl" in dockerfile  # the wheel


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def scrape(url: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics")
        assert response.status_code == 200, response.text
        return response.text


class SseProtocol:
    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.offsets: list[int] = []
        self.task = asyncio.create_task(self._read(client, path))

    async def _read(self, client: httpx.AsyncClient, path: str) -> None:
        async with client.stream("GET", path, timeout=None) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    event = orjson.loads(line[5:])
                    if event["type"] != "hello":
                        self.offsets.append(event["offset"])


class WsReader:
    def __init__(self, socket: ClientConnection) -> None:
        self.offsets: list[int] = []
        self.socket = socket
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            event = orjson.loads(message)
            if event["type"] != "hello":
                self.offsets.append(event["offset"])


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_nginx_in_front_of_two_instances_on_postgres_and_redis(
    settings: Settings, tokens: Tokens, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Where nginx's workers (www-data) can read, as they read the media volume in Docker.
    media = Path(tempfile.mkdtemp(prefix="liveupdates-media-"))
    media.chmod(0o755)
    servers = []
    for n in (1, 2):
        workdir = tmp_path / f"instance{n}"
        workdir.mkdir()
        servers.append(
            AppServer(
                settings,
                workdir,
                broker_url=f"redis://127.0.0.1:{redis_server.port}/0",
                trusted_proxies="127.0.0.1",
                media_dir=str(media),
            )  # fmt: skip
        )
    for server in servers:
        await server.start()
    nginx = Nginx(tmp_path, [server.port for server in servers], media)
    nginx.start()
    sockets: list[ClientConnection] = []
    readers: list[WsReader | SseProtocol] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{nginx.port}") as client:
            created = await client.post(
                "/api/blogs", json={"slug": "night", "title": "Night"}, headers=tokens.auth("admin")
            )
            assert created.status_code == 201

            async def readers_on(server: AppServer, transport: str) -> float:
                return metric(await scrape(server.url), "liveupdates_readers", transport=transport)

            # Readers through nginx until both instances have both kinds.
            for transport in ("websocket", "sse"):
                for _ in range(20):
                    counts = [await readers_on(s, transport) for s in servers]
                    if all(counts):
                        break
                    if transport == "websocket":
                        socket = await connect(f"ws://127.0.0.1:{nginx.port}/ws/blogs/night")
                        sockets.append(socket)
                        readers.append(WsReader(socket))
                    else:
                        readers.append(SseProtocol(client, "/blogs/night/events"))
                    await asyncio.sleep(0.2)
                assert all(counts), f"{transport} readers per instance: {counts}"

            for n in range(5):  # nginx spreads the posts over both instances too
                posted = await client.post(
                    "/api/blogs/night/entries", json={"body": f"Update {n}"},
                    headers=tokens.auth("editor"),
                )  # fmt: skip
                assert posted.status_code == 201
            for _ in range(100):
                if all(len(r.offsets) >= 5 for r in readers):
                    break
                await asyncio.sleep(0.05)
            assert [r.offsets for r in readers] == [[1, 2, 3, 4, 5]] * len(readers)

            page = await client.get("/blogs/night")
            assert page.status_code == 200 and "Update 4" in page.text
            assert (await client.get("/metrics")).status_code == 404
            await micro_caching(client, tokens)

            out = BytesIO()
            Image.new("RGB", (64, 48), "orange").save(out, "JPEG")
            uploaded = await client.post(
                "/api/media", files={"file": ("a.jpg", out.getvalue(), "image/jpeg")},
                headers=tokens.auth("reporter"),
            )  # fmt: skip
            assert uploaded.status_code == 201
            image = await client.get(uploaded.json()["url"])  # from the volume, by nginx
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/jpeg"
            assert "immutable" in image.headers["cache-control"]
    finally:
        for reader in readers:
            reader.task.cancel()
        for socket in sockets:
            await socket.close()
        nginx.stop()
        for server in servers:
            server.stop()
        shutil.rmtree(media, ignore_errors=True)


async def micro_caching(client: httpx.AsyncClient, tokens: Tokens) -> None:
    """What nginx keeps: pages for a second, per encoding, never with a token or a cookie."""

    async def status(path: str, **headers: str) -> tuple[str, httpx.Response]:
        response = await client.get(path, headers=headers)
        return response.headers.get("x-cache-status", ""), response

    for path in ("/blogs/night", "/blogs/night/feed.atom", "/sitemap.xml", "/api/blogs/night"):
        seen = []
        for _ in range(3):  # a second may end between two requests: then it is fetched anew
            cached, response = await status(path)
            assert response.status_code == 200
            seen.append(cached)
        assert "HIT" in seen, (path, seen)
    # Gzipped and plain copies are kept apart.
    _, zipped = await status("/blogs/night", **{"accept-encoding": "gzip"})
    _, plain = await status("/blogs/night", **{"accept-encoding": "identity"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in plain.headers and "<html" in plain.text

    # A post shows on the cached page within 1.5 s.
    posted = await client.post(
        "/api/blogs/night/entries", json={"body": "Fresh from the count"},
        headers=tokens.auth("editor"),
    )  # fmt: skip
    started = asyncio.get_running_loop().time()
    while "Fresh from the count" not in (await client.get("/blogs/night")).text:
        assert asyncio.get_running_loop().time() - started < 1.5, "the cached page is stale"
        await asyncio.sleep(0.05)

    # Never from the cache with a token (the cached public answer is not theirs), nor with
    # a cookie; the newsroom, never cached at all.
    draft = await client.post(
        "/api/blogs/night/entries", json={"body": "Not yet", "status": "draft"},
        headers=tokens.auth("editor"),
    )  # fmt: skip
    assert draft.status_code == 201
    path = "/api/blogs/night/entries?status=draft"
    public_status, public = await status(path)
    assert public.status_code == 401
    for _ in range(3):
        cached, mine = await status(path, **tokens.auth("editor"))
        assert mine.status_code == 200 and cached == "BYPASS"
        assert [e["body"] for e in mine.json()["entries"]] == ["Not yet"]
    public_status, public = await status(path)
    assert public.status_code == 401 and "Not yet" not in public.text
    await status("/api/blogs/night/entries")
    cached, _ = await status("/api/blogs/night/entries", **tokens.auth("reporter"))
    assert cached == "BYPASS"
    cached, _ = await status("/blogs/night", cookie="session=1")
    assert cached == "BYPASS"
    newsroom = await client.get("/newsroom")
    assert "x-cache-status" not in newsroom.headers
    assert posted.status_code == 201

    # The web client under its content's name: kept for good.
    script = re.search(r'src="(/static/[0-9a-f]{12}/live\.js)"', plain.text)
    assert script is not None
    asset = await client.get(script.group(1))
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]


async def ready(url: str) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/readyz", timeout=10)
        return response.status_code, response.json()


async def wait_ready(url: str, status: int) -> dict[str, str]:
    for _ in range(100):
        code, checks = await ready(url)
        if code == status:
            return checks
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz did not become {status}: {checks}")


async def test_readyz_follows_the_database_and_the_broker(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A Postgres cluster and a Redis of the test's own, stopped and started again."""
    pg = PrivatePostgres()
    pg.start()
    server = AppServer(
        Settings(database_url=pg.url), tmp_path,
        broker_url=f"redis://127.0.0.1:{redis_server.port}/0",
    )  # fmt: skip
    try:
        await server.start()  # `serve` migrates the new database first
        assert await ready(server.url) == (200, {"database": "ok", "broker": "ok"})

        redis_server.kill()
        assert await wait_ready(server.url, 503) == {"database": "ok", "broker": "down"}
        redis_server.start()
        await wait_ready(server.url, 200)

        pg.stop()
        assert await wait_ready(server.url, 503) == {"database": "down", "broker": "ok"}
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.url}/healthz")).status_code == 200  # alive
        pg.start()
        assert await wait_ready(server.url, 200) == {"database": "ok", "broker": "ok"}
    finally:
        server.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop()
        pg.remove()


async def test_metrics_move_with_readers_and_posts(
    start_server: StartServer, tokens: Tokens, blog: dict[str, object]
) -> None:
    server = await start_server()
    before = await scrape(server.url)
    async with connect(f"{server.ws_url}/ws/blogs/{blog['slug']}") as socket:
        await socket.recv()  # hello
        during = await scrape(server.url)
        assert metric(during, "liveupdates_readers", transport="websocket") == (
            metric(before, "liveupdates_readers", transport="websocket") + 1
        )
        async with httpx.AsyncClient(base_url=server.url) as client:
            posted = await client.post(
                f"/api/blogs/{blog['slug']}/entries", json={"body": "Counted"},
                headers=tokens.auth("editor"),
            )  # fmt: skip
            assert posted.status_code == 201
            assert len(posted.headers["x-request-id"]) == 32
        await socket.recv()
    after = await scrape(server.url)
    for name in ("liveupdates_events_published_total", "liveupdates_deliveries_total"):
        assert metric(after, name) >= metric(before, name) + 1, name
    route = "/api/blogs/{slug}/entries"
    assert (
        metric(after, "liveupdates_request_duration_seconds_count", method="POST", route=route)
        == metric(before, "liveupdates_request_duration_seconds_count", method="POST", route=route)
        + 1
    )
    for _ in range(50):  # the reader is counted out once its socket is closed
        if metric(await scrape(server.url), "liveupdates_readers", transport="websocket") == (
            metric(before, "liveupdates_readers", transport="websocket")
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the reader was not counted out")


async def test_metrics_are_private_unless_asked_with_the_token(
    start_server: StartServer,
) -> None:
    server = await start_server(metrics_allow="10.0.0.0/8", metrics_token="scrape-me")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/metrics")).status_code == 403  # loopback is not 10/8
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert allowed.status_code == 200
        assert "liveupdates_readers" in allowed.text
        assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_two_workers_report_their_metrics_together_and_log_json(
    settings: Settings, tokens: Tokens, redis_server: RedisServer, tmp_path: Path
) -> None:
    server = AppServer(
        settings, tmp_path, workers=2, log_level="info",
        broker_url=f"redis://127.0.0.1:{redis_server.port}/0",
    )  # fmt: skip
    await server.start()
    sockets: list[ClientConnection] = []
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            created = await client.post(
                "/api/blogs", json={"slug": "w", "title": "W"}, headers=tokens.auth("admin")
            )
            assert created.status_code == 201
            for _ in range(12):  # spread by the kernel over both workers
                socket = await connect(f"{server.ws_url}/ws/blogs/w")
                await socket.recv()
                sockets.append(socket)
            # Whichever worker answers the scrape, it counts the readers of both.
            for _ in range(4):
                text = await scrape(server.url)
                assert metric(text, "liveupdates_readers", transport="websocket") == 12
            posted = await client.post(
                "/api/blogs/w/entries", json={"body": "Logged"},
                headers={**tokens.auth("editor"), "X-Request-ID": "from-the-proxy-1"},
            )  # fmt: skip
            assert posted.status_code == 201
            assert posted.headers["x-request-id"] == "from-the-proxy-1"
    finally:
        for socket in sockets:
            await socket.close()
        server.stop()
    lines = [
        orjson.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")
    ]
    event = next(line for line in lines if line.get("message") == "entry.created")
    assert (
        event["blog"] == "w" and event["offset"] == 1 and event["entry_id"] == posted.json()["id"]
    )
    assert event["request_id"] == "from-the-proxy-1"
    access = next(line for line in lines if line.get("request_id") == "from-the-proxy-1"
                  and line.get("logger") == "liveupdates.access")  # fmt: skip
    assert access["route"] == "/api/blogs/{slug}/entries" and access["status"] == 201


class ResumingReader:
    """A reader through nginx that, like the web client, resumes from the last offset it
    saw whenever its connection ends (an instance restarting tells it so: 1012)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.offsets: list[int] = []
        self.reconnects = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            since = self.offsets[-1] if self.offsets else 0
            try:
                async with connect(f"{self.url}?since={since}") as ws:
                    async for message in ws:
                        event = orjson.loads(message)
                        if "offset" in event and event["type"] != "hello":
                            self.offsets.append(event["offset"])
            except (OSError, websockets.exceptions.WebSocketException):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
async def test_a_rolling_restart_behind_nginx_goes_unnoticed(
    settings: Settings, tokens: Tokens, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Each instance restarted in turn (SIGTERM, then started again) while readers read,
    pages are fetched and a reporter posts, all through nginx: no page request fails, every
    post is acknowledged once, every reader ends with every entry once."""
    servers = []
    for n in (1, 2):
        (tmp_path / f"i{n}").mkdir()
        servers.append(
            AppServer(
                settings, tmp_path / f"i{n}", broker_url=f"redis://127.0.0.1:{redis_server.port}/0"
            )
        )
    for server in servers:
        await server.start()
    nginx = Nginx(tmp_path, [server.port for server in servers], tmp_path)
    nginx.start()
    base = f"http://127.0.0.1:{nginx.port}"
    readers: list[ResumingReader] = []
    failures: list[str] = []
    pages = 0
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            r = await client.post("/api/blogs", json={"slug": "roll", "title": "Roll"},
                                  headers=tokens.auth("admin"))  # fmt: skip
            assert r.status_code == 201
            readers = [
                ResumingReader(f"ws://127.0.0.1:{nginx.port}/ws/blogs/roll") for _ in range(6)
            ]

            async def fetch_pages() -> None:
                nonlocal pages
                while not stop.is_set():
                    # Half past the cache (a cookie): every one of those reaches an instance.
                    for headers in ({}, {"cookie": "x=1"}):
                        try:
                            page = await client.get("/blogs/roll", headers=headers)
                            if page.status_code != 200:
                                failures.append(f"{page.status_code} {headers}")
                        except httpx.HTTPError as error:
                            failures.append(repr(error))
                        pages += 1
                    await asyncio.sleep(0.02)

            acknowledged: list[int] = []

            async def post() -> None:
                n = 0
                while not stop.is_set():
                    key = f"roll-{n}"
                    while True:  # as the newsroom's outbox does: the same key until answered
                        try:
                            r = await client.post(
                                "/api/blogs/roll/entries", json={"body": f"Update {n}"},
                                headers={**tokens.auth("editor"), "Idempotency-Key": key},
                            )  # fmt: skip
                            if r.status_code == 201:
                                acknowledged.append(r.json()["id"])
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.1)
                    n += 1
                    await asyncio.sleep(0.05)

            work = [asyncio.create_task(fetch_pages()), asyncio.create_task(post())]
            await asyncio.sleep(1)
            for server in servers:
                await asyncio.to_thread(server.stop)  # drains: readers told to go elsewhere
                await server.start()
                # As docs/OPERATIONS.md says: the next goes down once nginx has this one
                # back in rotation (it leaves a failed instance alone for 2 s).
                await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*work)

            last = (await client.get("/api/blogs/roll")).json()["offset"]
            assert last == len(acknowledged) == len(set(acknowledged)) > 20
            for _ in range(200):
                if all(r.offsets[-1:] == [last] for r in readers):
                    break
                await asyncio.sleep(0.05)
            for reader in readers:
                assert reader.offsets == list(range(1, last + 1))
            assert sum(r.reconnects for r in readers) >= len(readers)  # each was moved
            errors = (nginx.dir / "error.log").read_text()[-2000:]
            assert failures == [] and pages > 100, (failures[:5], errors)
    finally:
        for reader in readers:
            reader.task.cancel()
        nginx.stop()
        for server in servers:
            server.stop()
