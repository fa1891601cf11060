"""The wheel carries everything the server needs: installed outside the checkout, it
migrates, serves pages, the web client and the API."""

import os
import site
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_serves_outside_the_checkout(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("liveupdates-*.whl")
    # A fresh venv; the dependencies are lent from this one (a path, not its .pth files, so
    # the checkout's editable install is not seen), the package comes from the wheel alone.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    fresh_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(fresh_site) / "lent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run(
        [python, "-c", "import app; print(app.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert where.startswith(fresh_site), where

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work}/live.db",
        "MEDIA_DIR": str(work / "media"),
    }
    cli = env_dir / "bin" / "liveupdates"
    subprocess.run([cli, "migrate"], env=env, cwd=work, check=True, capture_output=True)
    subprocess.run([cli, "demo"], env=env, cwd=work, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        page = httpx.get(f"{base}/blogs/demo")
        assert page.status_code == 200 and "LiveBlogPosting" in page.text
        assert httpx.get(f"{base}/static/live.js").status_code == 200
        assert httpx.get(f"{base}/embed.js").status_code == 200
        assert httpx.get(f"{base}/api/blogs/demo").json()["slug"] == "demo"
    finally:
        server.terminate()
        server.wait(timeout=30)
