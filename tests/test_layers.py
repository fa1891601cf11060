"""The layout shows the design, and imports keep to it: no module imports from a layer
above its own (docs/ARCHITECTURE.md)."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# Lowest first. A module may import from its own layer and those below it.
LAYERS: list[tuple[str, list[str]]] = [
    # app.services names the running app's parts for types only: it imports none of them.
    ("plumbing", ["app.i18n", "app.config", "app.resources", "app.models", "app.embeds",
                  "app.render", "app.tasks", "app.routes",
                  "app.media", "app.poster", "app.ops.*", "app.api.errors", "app.services"]),
    ("storage", ["app.db", "app.auth", "app.events", "app.paging", "app.eventlog",
                 "app.idempotency", "app.periodic", "app.limits", "app.publishing"]),
    ("reader side", ["app.live.*"]),
    ("web", ["app.deps", "app.views", "app.metadata", "app.history", "app.pagecache", "app.pages",
             "app.api.*"]),
    ("application", ["app.main", "app.cli", "app.catalogs", "app.backup", "app.demo",
                     "app.migrate"]),
]  # fmt: skip


def layer_of(module: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return index
    raise AssertionError(f"{module} is in no layer: place it in LAYERS")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    typing_only = {  # under `if TYPE_CHECKING:`: no import at run time
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            if node.module == "app":
                found |= {f"app.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


def test_no_import_runs_up_a_layer() -> None:
    wrong = []
    for path in APP.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        module = "app." + ".".join(path.relative_to(APP).with_suffix("").parts)
        for target in imports(path):
            if target in ("app.api", "app.live", "app.ops", "app.live.edge"):
                continue  # a package's docstring and constants
            if layer_of(target) > layer_of(module):
                wrong.append(f"{module} -> {target}")
    assert wrong == []
