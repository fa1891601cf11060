"""The restore drill: a backup taken during a burst of posts, restored into a fresh
database, served; readers resuming from their old offsets get exactly what the backup
holds, an offset beyond it is refused cleanly (the client reloads), and so is one beyond
it that the restored blog has since passed: the restore gave the stream a new epoch."""

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from tests.conftest import Tokens, restored
from tests.servers import AppServer
from tests.servers import run_cli as cli


async def test_a_backup_taken_during_a_burst_restores_to_what_it_held(
    settings: Settings, tokens: Tokens, tmp_path: Path, clean_db: None
) -> None:
    postgres = not settings.is_sqlite
    (tmp_path / "live").mkdir()
    original = AppServer(settings, tmp_path / "live")
    await original.start()
    backup_file = tmp_path / ("night.dump" if postgres else "night.db")
    try:
        async with httpx.AsyncClient(base_url=original.url, timeout=30) as client:
            r = await client.post("/api/blogs", json={"slug": "night", "title": "Night"},
                                  headers=tokens.auth("admin"))  # fmt: skip
            assert r.status_code == 201
            stop = asyncio.Event()

            async def burst() -> int:
                n = 0
                while not stop.is_set() or n < 60:
                    r = await client.post("/api/blogs/night/entries", json={"body": f"Post {n}"},
                                          headers=tokens.auth("editor"))  # fmt: skip
                    assert r.status_code == 201
                    n += 1
                return n

            posting = asyncio.create_task(burst())
            await asyncio.sleep(0.5)
            took = await asyncio.to_thread(cli, settings.database_url, "backup", str(backup_file))
            assert took.returncode == 0, took.stderr
            stop.set()
            posted = await posting
            for n in range(3):  # and some surely after the backup
                body = {"body": f"Post {posted + n}"}
                r = await client.post(
                    "/api/blogs/night/entries", json=body, headers=tokens.auth("editor")
                )
                assert r.status_code == 201
            final_blog = (await client.get("/api/blogs/night")).json()
            final, old_epoch = final_blog["offset"], final_blog["epoch"]
    finally:
        original.stop()
    assert final == posted + 3

    # Restore into a fresh database, and serve it.
    (tmp_path / "restored").mkdir()
    async with restored(settings, backup_file, tmp_path / "restored") as fresh:
        again = cli(fresh.database_url, "restore", str(backup_file))
        assert again.returncode == 1 and "restore into a new database" in again.stderr
        server = AppServer(fresh, tmp_path / "restored")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                held = (await client.get("/api/blogs/night")).json()["offset"]
                assert 0 < held < final  # taken mid-burst: part of it, and all of that part
                entries = []
                cursor = None
                while True:
                    params = {"limit": 100, **({"before": cursor} if cursor else {})}
                    page = (await client.get("/api/blogs/night/entries", params=params)).json()
                    entries += page["entries"]
                    if not (cursor := page["next"]):
                        break
                assert sorted(int(e["body"].split()[1]) for e in entries) == list(range(held))
                # The token made before the backup works on the restored server.
                after = {"body": "After the restore"}
                r = await client.post("/api/blogs/night/entries", json=after,
                                      headers=tokens.auth("editor"))  # fmt: skip
                assert r.status_code == 201

            # A reader that had seen up to `held - 5` gets the rest of what the backup held,
            # then what comes after, once each, in order.
            async with connect(f"{server.ws_url}/ws/blogs/night?since={held - 5}") as ws:
                hello = orjson.loads(await ws.recv())
                assert hello["type"] == "hello" and hello["offset"] == held + 1
                got = [orjson.loads(await ws.recv())["offset"] for _ in range(6)]
                assert got == list(range(held - 4, held + 2))
            # One that had seen more than the backup holds is told its offset is no good (4400):
            # the web client reloads the page and starts from what there is.
            async with connect(f"{server.ws_url}/ws/blogs/night?since={final}") as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
            async with httpx.AsyncClient(base_url=server.url) as client:
                sse = await client.get("/blogs/night/events", params={"since": final})
                assert sse.status_code == 400

            # The restored blog goes on past `final`: its offsets now name other events than
            # the original's did. A reader that saw `final` there comes back with its epoch and
            # is told to start over (4409 / 409), never resumed into the other stream.
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                blog = (await client.get("/api/blogs/night")).json()
                assert blog["epoch"] != old_epoch
                for n in range(final - blog["offset"] + 2):
                    r = await client.post("/api/blogs/night/entries", json={"body": f"Again {n}"},
                                          headers=tokens.auth("editor"))  # fmt: skip
                    assert r.status_code == 201
                latest = (await client.get("/api/blogs/night")).json()["offset"]
                assert latest > final
                for query in (
                    {"since": final, "epoch": old_epoch},
                    {"since": 1, "epoch": old_epoch},
                ):
                    sse = await client.get("/blogs/night/events", params=query)
                    assert sse.status_code == 409 and "start over" in sse.json()["detail"]
                sse = await client.get(
                    "/blogs/night/events", headers={"Last-Event-ID": f"{final}@{old_epoch}"}
                )
                assert sse.status_code == 409
                page = (await client.get("/blogs/night")).text
                assert f'data-epoch="{blog["epoch"]}"' in page and old_epoch not in page
            async with connect(
                f"{server.ws_url}/ws/blogs/night?since={final}&epoch={old_epoch}"
            ) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
            # Resuming within the new stream is as ever: the rest, once each, in order.
            new = f"since={final}&epoch={blog['epoch']}"
            async with connect(f"{server.ws_url}/ws/blogs/night?{new}") as ws:
                hello = orjson.loads(await ws.recv())
                assert hello["epoch"] == blog["epoch"] and hello["offset"] == latest
                got = [orjson.loads(await ws.recv())["offset"] for _ in range(latest - final)]
                assert got == list(range(final + 1, latest + 1))
        finally:
            server.stop()
