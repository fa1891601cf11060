"""Files the server needs at run time besides its code: the web client (`web/`), the
migrations and Alembic's configuration.

In the repository they live at its top level; the wheel carries them inside the package
(pyproject.toml maps them there), so an installed server finds them without a checkout.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    inside = PACKAGE / name  # an installed wheel
    return inside if inside.exists() else PACKAGE.parent / name  # a checkout


WEB = _resource("web")
MIGRATIONS = _resource("migrations")
ALEMBIC_INI = _resource("alembic.ini")
TEMPLATES = PACKAGE / "templates"
# gettext catalogs: `.po` kept in the repository, `.mo` compiled from them when the package is
# built or installed (hatch_build.py).
TRANSLATIONS = PACKAGE / "translations"
