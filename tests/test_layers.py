"""The packages are the layers of docs/ARCHITECTURE.md, and imports keep to them: no module
imports from a layer above its own, and no modules import each other in a ring, not even
for types only."""

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
APP = Path(__file__).resolve().parent.parent / "app"

# Package (or top-level module) -> layer, lowest first; docs/ARCHITECTURE.md quotes it.
LAYERS = {
    "app.domain": 1,  # what a live blog is, without I/O
    "app.config": 2, "app.resources": 2, "app.services": 2, "app.ops": 2,  # plumbing
    "app.store": 3,  # the database, the event log, Redis
    "app.live": 4,  # the reader side
    "app.site": 5,  # readers' pages
    "app.api": 6,  # the REST API
    "app.main": 7, "app.cli": 7,  # the application
}  # fmt: skip


def layer_of(module: str) -> int:
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"{module} is in no layer: place its package in LAYERS")


def _modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("app", *parts))] = path
    return found


MODULES = _modules()


def imports(path: Path, typing_too: bool = False) -> set[str]:
    """The app's modules `path` imports (a name imported from a package counts as its
    module when it is one); under `if TYPE_CHECKING:` only when `typing_too`."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only and not typing_too:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
    return found


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        if module != "app":
            layer_of(module)


def test_no_import_runs_up_a_layer() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, path in MODULES.items()
        if module != "app"
        for target in imports(path)
        if layer_of(target) > layer_of(module)
    ]
    assert wrong == []


def rings(graph: Mapping[T, Iterable[T]]) -> list[list[T]]:
    """Every ring of `graph` (module -> what it imports) a depth-first walk finds."""
    found: list[list[T]] = []
    done: set[T] = set()

    def visit(module: T, trail: list[T]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in trail:
                found.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return found


def test_no_modules_import_each_other_in_a_ring() -> None:
    graph = {m: imports(p, typing_too=True) - {m} for m, p in MODULES.items()}
    assert [" -> ".join(ring) for ring in rings(graph)] == []


WEB = APP.parent / "web"
_IMPORT = re.compile(r'^import\b[^;]*?\bfrom\s+"([^"]+)"', re.MULTILINE)


def test_no_web_client_modules_import_each_other_in_a_ring() -> None:
    graph = {
        path: {(path.parent / found).resolve() for found in _IMPORT.findall(path.read_text())}
        for path in (p.resolve() for p in WEB.rglob("*.js"))
    }
    found = [" -> ".join(str(m.relative_to(WEB)) for m in ring) for ring in rings(graph)]
    assert found == []
