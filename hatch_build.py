"""Compiles the gettext catalogs (app/translations/*/LC_MESSAGES/*.po → .mo) whenever the
package is built or installed, editable installs included: the server never compiles them
itself, and refuses to start without them (app/site/i18n.py)."""

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogs(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        for po in sorted(Path(self.root, "app", "translations").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as file:
                catalog = read_po(file, locale=po.parent.parent.name, domain=po.stem)
            with po.with_suffix(".mo").open("wb") as file:
                write_mo(file, catalog, use_fuzzy=False)
        build_data["artifacts"].append("app/translations/**/*.mo")
