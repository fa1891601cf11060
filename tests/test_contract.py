"""The web client and the server agree on what they share, by test: web/events.js is
imported by Node and each of its constants compared with the server's own."""

import json
import shutil
import subprocess
from pathlib import Path

from app.domain.alerts import SUMMARY_LENGTH
from app.domain.events import DeskEventType, EventType
from app.domain.models import BlogStatus, EntryStatus
from app.live.wire import CloseCode

EVENTS_JS = Path(__file__).resolve().parent.parent / "web" / "events.js"


def client_constants() -> dict[str, object]:
    node = shutil.which("node")
    assert node, "Node.js is needed to read the web client's constants"
    script = f"import * as c from {json.dumps(EVENTS_JS.as_uri())}; console.log(JSON.stringify(c));"
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    constants: dict[str, object] = json.loads(done.stdout)
    return constants


def test_the_web_client_names_what_the_server_names() -> None:
    web = client_constants()
    assert web["EVENT"] == {kind.name: kind.value for kind in EventType}
    assert web["DESK"] == {kind.name: kind.value for kind in DeskEventType}
    assert web["STATUS"] == {status.name.upper(): status.value for status in EntryStatus}
    assert web["BLOG_STATUS"] == {status.name.upper(): status.value for status in BlogStatus}
    assert web["SUMMARY_LENGTH"] == SUMMARY_LENGTH
    # The client knows the close codes it acts on: each is the server's, by name and number.
    close = web["CLOSE"]
    assert isinstance(close, dict) and close
    assert close == {name: CloseCode[name].value for name in close}
    assert {"BAD_OFFSET", "STREAM_CHANGED", "NO_SUCH_BLOG"} <= set(close)
    assert set(web) == {"EVENT", "DESK", "CLOSE", "STATUS", "BLOG_STATUS", "SUMMARY_LENGTH"}
