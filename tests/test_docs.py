"""The docs describe the code as it is: every setting is documented, every module placed."""

from pathlib import Path

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end > 0 else None]


def test_every_setting_is_in_the_readmes_configuration_table() -> None:
    table = _section("## Configuration")
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in table]
    assert missing == []


def test_every_module_is_placed_in_the_readmes_layout() -> None:
    layout = _section("## Layout")
    modules = [
        path.relative_to(ROOT / "app")
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "__init__.py" and path.parent.name != "api"
    ]
    missing = [str(m) for m in modules if m.name not in layout]
    assert missing == []


def test_the_design_quotes_the_layer_map_the_layer_test_keeps() -> None:
    source = (ROOT / "tests" / "test_layers.py").read_text()
    start = source.index("LAYERS = {")
    quoted = source[start : source.index("}", start) + 1]
    assert quoted in (ROOT / "docs" / "ARCHITECTURE.md").read_text()
